/**
 * The Store contract against a local 3-master Redis Cluster (the suite lives in
 * store-contract.suite.ts): all/ids/length/clear must SCAN every master, changes are published
 * with SPUBLISH and received through SSUBSCRIBE, and no command spans slots.
 */
import { startCluster } from '@live-session/test-support';
import { Cluster } from 'ioredis';
import { storeContractSuite } from './store-contract.suite';

const MASTERS = 3;

storeContractSuite('Redis Cluster, 3 masters', async () => {
  const cluster = await startCluster({ masters: MASTERS });
  const client = new Cluster(cluster.nodes);
  return {
    client,
    redis: {
      close: async () => {
        client.disconnect();
        await cluster.close();
      },
    },
    // On a Cluster the store publishes with SPUBLISH: a consumer SSUBSCRIBEs on the shard of the key.
    subscriber: async (onMessage) => {
      const subscriber = client.duplicate([], { shardedSubscribers: true });
      subscriber.on('smessage', onMessage);
      return { subscribe: (channel) => subscriber.ssubscribe(channel), close: () => subscriber.disconnect() };
    },
    shards: {
      count: MASTERS,
      of: async (key) => {
        const slot = Number(await client.cluster('KEYSLOT', key));
        return client.slots[slot][0];
      },
    },
  };
});
