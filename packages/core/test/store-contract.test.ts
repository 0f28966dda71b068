/**
 * The Store contract against a standalone Redis (the suite lives in store-contract.suite.ts), once
 * per client library: the store publishes with PUBLISH and a consumer SUBSCRIBEs.
 */
import { CLIENT_KINDS, createTestClient, startRedis, type TestRedis } from '@live-session/test-support';
import { storeContractSuite } from './store-contract.suite';

let redis: Promise<TestRedis> | undefined;
afterAll(async () => (await redis)?.close());

for (const kind of CLIENT_KINDS) {
  storeContractSuite(`standalone Redis, ${kind}`, async () => {
    redis ??= startRedis();
    const client = await createTestClient(kind, { url: (await redis).url });
    return { client, close: () => client.close() };
  });
  storeContractSuite(
    `standalone Redis, ${kind}, reads from memory (cache)`,
    async () => {
      redis ??= startRedis();
      const client = await createTestClient(kind, { url: (await redis).url });
      return { client, close: () => client.close() };
    },
    { prefix: 'contract[c]:', options: { cache: true } },
  );
}
