/**
 * The multi-server scenarios (multi-server.suite.ts) against one standalone Redis 7 with the
 * store option `publish: 'spublish'`, once per client library: sharded pub/sub without a Cluster,
 * each app server SSUBSCRIBEs.
 */
import { CLIENT_KINDS } from '@live-session/test-support';
import { multiServerSuite, standaloneTargets } from './multi-server.suite';

const deployment = standaloneTargets('spublish');
afterAll(() => deployment.close());

for (const kind of CLIENT_KINDS) multiServerSuite(`standalone Redis 7, publish: 'spublish', ${kind}`, () => deployment.target(kind));
