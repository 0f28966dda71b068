/**
 * The multi-server scenarios (multi-server.suite.ts) against one standalone Redis, once per client
 * library (the app servers' REDIS_CLIENT): the store publishes with PUBLISH and each app server
 * SUBSCRIBEs.
 */
import { CLIENT_KINDS } from '@live-session/test-support';
import { multiServerSuite, standaloneTargets } from './multi-server.suite';

const deployment = standaloneTargets('publish');
afterAll(() => deployment.close());

for (const kind of CLIENT_KINDS) multiServerSuite(`standalone Redis, ${kind}`, () => deployment.target(kind));
