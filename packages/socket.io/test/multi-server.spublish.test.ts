/**
 * The multi-server scenarios (multi-server.suite.ts) against one standalone Redis 7 with the
 * store option `publish: 'spublish'`: sharded pub/sub without a Cluster, each app server SSUBSCRIBEs.
 */
import { startRedis } from '@live-session/test-support';
import Redis from 'ioredis';
import { multiServerSuite } from './multi-server.suite';

multiServerSuite("standalone Redis 7, publish: 'spublish'", async () => {
  const redis = await startRedis();
  const client = new Redis(redis.url);
  return {
    env: { REDIS_URL: redis.url, REDIS_PUBLISH: 'spublish' },
    kind: 'sharded',
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
