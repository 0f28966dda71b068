/**
 * Reads from memory across app servers in separate processes (reads-from-memory.suite.ts) on a
 * local 3-master Redis Cluster, once per client library: each read checks the session's version
 * (its subscriptions are spread over one connection per shard, which one PING cannot order).
 */
import { CLIENT_KINDS } from '@live-session/test-support';
import { clusterTargets } from './multi-server.suite';
import { readsFromMemorySuite } from './reads-from-memory.suite';

const { target, close } = clusterTargets(3);
afterAll(close);

for (const kind of CLIENT_KINDS) readsFromMemorySuite(`Redis Cluster, 3 masters, ${kind}`, () => target(kind));
