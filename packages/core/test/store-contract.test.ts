/** The Store contract against a standalone Redis (the suite lives in store-contract.suite.ts). */
import { startRedis } from '@live-session/test-support';
import { Redis } from 'ioredis';
import { storeContractSuite } from './store-contract.suite';

storeContractSuite('standalone Redis', async () => {
  const redis = await startRedis();
  const client = new Redis(redis.url);
  return {
    client,
    redis: {
      close: async () => {
        client.disconnect();
        await redis.close();
      },
    },
    // The default publish command on a standalone Redis is PUBLISH: a consumer SUBSCRIBEs.
    subscriber: async (onMessage) => {
      const subscriber = client.duplicate();
      subscriber.on('message', onMessage);
      return { subscribe: (channel) => subscriber.subscribe(channel), close: () => subscriber.disconnect() };
    },
  };
});
