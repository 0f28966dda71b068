/**
 * Session events on a local 3-master Redis Cluster (the suite lives in events.suite.ts), once per
 * client library: the events' 16 shards spread over the masters, each script runs on one shard's
 * slot, session keys and shard keys are never in one command.
 */
import { CLIENT_KINDS, createTestClient, startCluster, type TestCluster } from '@live-session/test-support';
import { eventsSuite } from './events.suite';

// One Cluster for the file: starting one takes seconds on this machine.
let cluster: Promise<TestCluster> | undefined;
afterAll(async () => (await cluster)?.close());

for (const kind of CLIENT_KINDS) {
  eventsSuite(`Redis Cluster, 3 masters, ${kind}`, async () => {
    cluster ??= startCluster({ masters: 3 });
    const { nodes } = await cluster;
    const client = await createTestClient(kind, { cluster: nodes });
    return { client, another: () => createTestClient(kind, { cluster: nodes }), close: () => client.close() };
  }, { prefix: `ev[${kind}]:` });
}
