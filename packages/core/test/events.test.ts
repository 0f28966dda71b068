/** Session events on a standalone Redis, once per client library (the suite lives in events.suite.ts). */
import { CLIENT_KINDS, createTestClient, startRedis, type TestRedis } from '@live-session/test-support';
import { eventsSuite } from './events.suite';

let redis: Promise<TestRedis> | undefined;
afterAll(async () => (await redis)?.close());

for (const kind of CLIENT_KINDS) {
  eventsSuite(`standalone Redis, ${kind}`, async () => {
    redis ??= startRedis();
    const { url } = await redis;
    const client = await createTestClient(kind, { url });
    return { client, another: () => createTestClient(kind, { url }), close: () => client.close() };
  }, { prefix: `ev[${kind}]:` });
}
