/**
 * The multi-server scenarios (multi-server.suite.ts) against one standalone Redis 7 with the
 * store option `publish: 'spublish'`, once per client library: sharded pub/sub without a Cluster,
 * each app server SSUBSCRIBEs.
 */
import { CLIENT_KINDS, startRedis, type TestRedis } from '@live-session/test-support';
import Redis from 'ioredis';
import { multiServerSuite } from './multi-server.suite';

let deployment: Promise<{ redis: TestRedis; admin: Redis }> | undefined;
afterAll(async () => {
  const started = await deployment;
  started?.admin.disconnect();
  await started?.redis.close();
});

for (const kind of CLIENT_KINDS) {
  multiServerSuite(`standalone Redis 7, publish: 'spublish', ${kind}`, async () => {
    deployment ??= startRedis().then((redis) => ({ redis, admin: new Redis(redis.url) }));
    const { redis, admin } = await deployment;
    return {
      env: { REDIS_URL: redis.url, REDIS_PUBLISH: 'spublish', REDIS_CLIENT: kind },
      kind: 'sharded',
      channels: async () => ({
        classic: (await admin.pubsub('CHANNELS', 'live_session:*')) as string[],
        sharded: (await admin.call('PUBSUB', 'SHARDCHANNELS', 'live_session:*')) as string[],
      }),
      hget: (key, field) => admin.hget(key, field),
      hset: (key, ...fieldsAndValues) => admin.hset(key, ...fieldsAndValues),
      cutSubscribers: async () => void (await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')),
      close: async () => undefined, // the deployment is closed with the file
    };
  });
}
