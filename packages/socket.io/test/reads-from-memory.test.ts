/**
 * Reads from memory across app servers in separate processes (reads-from-memory.suite.ts) on one
 * standalone Redis, once per client library.
 */
import { CLIENT_KINDS } from '@live-session/test-support';
import { standaloneTargets } from './multi-server.suite';
import { readsFromMemorySuite } from './reads-from-memory.suite';

const deployment = standaloneTargets('publish');
afterAll(() => deployment.close());

for (const kind of CLIENT_KINDS) readsFromMemorySuite(`standalone Redis, ${kind}`, () => deployment.target(kind), { slowLink: true });
