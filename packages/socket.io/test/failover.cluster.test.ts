/** A master of a 3-master Cluster (one replica each) killed during live traffic (failover.suite.ts). */
import { type ClusterNode, startCluster } from '@live-session/test-support';
import { Cluster } from 'ioredis';
import { failoverSuite } from './failover.suite';

failoverSuite('Redis Cluster, 3 masters with a replica each', async () => {
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
  const client = new Cluster(cluster.nodes);
  client.on('error', () => undefined); // its connection to the killed master fails
  let killed: ClusterNode | undefined;
  return {
    env: { REDIS_CLUSTER_NODES: cluster.nodeList },
    killMasterOf: async (key) => {
      const [address] = client.slots[Number(await client.cluster('KEYSLOT', key))];
      const colon = address.lastIndexOf(':');
      killed = { host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
      await cluster.kill(killed);
    },
    failedOver: async () => {
      await cluster.healthy({ timeout: 20_000 });
      expect(await cluster.masters()).not.toContainEqual(killed);
    },
    close: async () => {
      client.disconnect();
      await cluster.close();
    },
  };
});
