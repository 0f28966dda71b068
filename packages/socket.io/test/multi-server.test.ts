/**
 * The multi-server scenarios (multi-server.suite.ts) against one standalone Redis: the store
 * publishes with PUBLISH and each app server SUBSCRIBEs.
 */
import { startRedis } from '@live-session/test-support';
import Redis from 'ioredis';
import { multiServerSuite } from './multi-server.suite';

multiServerSuite('standalone Redis', async () => {
  const redis = await startRedis();
  const client = new Redis(redis.url);
  return {
    env: { REDIS_URL: redis.url },
    kind: 'classic',
    channels: async () => ({
      classic: (await client.pubsub('CHANNELS', 'live_session:*')) as string[],
      sharded: (await client.call('PUBSUB', 'SHARDCHANNELS', 'live_session:*')) as string[],
    }),
    close: async () => {
      client.disconnect();
      await redis.close();
    },
  };
});
