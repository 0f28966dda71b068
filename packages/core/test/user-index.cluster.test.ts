/**
 * The sessions of a user on a local 3-master Redis Cluster (the suite lives in user-index.suite.ts):
 * each user's index is one key in its own slot, never in a command or script with a session key.
 */
import { startCluster } from '@live-session/test-support';
import { Cluster } from 'ioredis';
import { userIndexSuite } from './user-index.suite';

userIndexSuite('Redis Cluster, 3 masters', async () => {
  const cluster = await startCluster({ masters: 3 });
  const client = new Cluster(cluster.nodes);
  await new Promise<void>((resolve) => (client.status === 'ready' ? resolve() : client.once('ready', () => resolve())));
  return {
    client,
    close: async () => {
      client.disconnect();
      await cluster.close();
    },
    subscriber: async (onMessage) => {
      const subscriber = client.duplicate([], { shardedSubscribers: true });
      subscriber.on('smessage', onMessage);
      return { subscribe: (channel) => subscriber.ssubscribe(channel), close: () => subscriber.disconnect() };
    },
  };
});
