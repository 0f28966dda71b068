/**
 * A master of a 3-master Cluster (one replica each) killed during live traffic (failover.suite.ts),
 * once per client library of the app servers (a new Cluster each: one master is gone after a run).
 */
import { CLIENT_KINDS, type ClusterNode, startCluster, waitFor } from '@live-session/test-support';
import { Cluster } from 'ioredis';
import { failoverSuite } from './failover.suite';

/** Once as they are, once with the store's reads from memory (the app servers' reads must stay exact through the failover). */
for (const [kind, cache] of CLIENT_KINDS.flatMap((kind) => [[kind, false], [kind, true]] as const)) failoverSuite(`Redis Cluster, 3 masters with a replica each, ${kind}${cache ? ', reads from memory' : ''}`, async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const client = new Cluster(cluster.nodes);
  client.on('error', () => undefined); // its connection to the killed master fails
  let killed: ClusterNode | undefined;
  return {
    env: { REDIS_CLUSTER_NODES: cluster.nodeList, REDIS_CLIENT: kind, ...(cache ? { CACHE: '1' } : {}) },
    killMasterOf: async (key) => {
      const [address] = client.slots[Number(await client.cluster('KEYSLOT', key))];
      const colon = address.lastIndexOf(':');
      killed = { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
      await cluster.kill(killed);
    },
    failedOver: async () => {
      // Right after the kill the other nodes still list it as a master: wait for the promotion first.
      const promoted = async () => {
        const masters = await cluster.masters();
        return masters.length === 3 && !masters.some((m) => m.port === killed!.port);
      };
      await waitFor(promoted, { timeout: 20_000, interval: 100, what: 'a replica to take over the killed master' });
      await cluster.healthy({ timeout: 20_000 });
    },
    close: async () => {
      client.disconnect();
      await cluster.close();
    },
  };
});
