/**
 * Session events on a standalone Redis, once per client library (the suite lives in events.suite.ts);
 * and on a Redis that cannot turn keyspace notifications on, as managed services restrict it.
 */
import { CLIENT_KINDS, createTestClient, startRedis, waitFor, type TestRedis } from '@live-session/test-support';
import { LiveSessionStore, type SessionEvent, watchSessions } from '../src';
import { eventsSuite } from './events.suite';
import { cookieJson } from './helpers';

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

describe('a Redis whose CONFIG command is disabled (keyspace notifications off, and no way to turn them on)', () => {
  let locked: TestRedis;
  beforeAll(async () => {
    locked = await startRedis({ args: ['--notify-keyspace-events', '', '--rename-command', 'CONFIG', '""'] });
  });
  afterAll(() => locked?.close());

  it.each(CLIENT_KINDS)('reports creations, logouts and expiries all the same (%s)', async (kind) => {
    const client = await createTestClient(kind, { url: locked.url });
    try {
      await expect(client.onEveryMaster('CONFIG', 'SET', 'notify-keyspace-events', 'Ex')).rejects.toThrow(/unknown command/i);
      const store = new LiveSessionStore({ client: client.client, prefix: `locked[${kind}]:`, events: true });
      const received: SessionEvent[] = [];
      const watcher = watchSessions(store, { created: (e) => void received.push(e), destroyed: (e) => void received.push(e), expired: (e) => void received.push(e) }, { claimAfter: 1000 });
      try {
        await store.set('leaves', { cookie: cookieJson(60 * 60 * 1000) } as never);
        await store.set('expires', { cookie: cookieJson(1000) } as never);
        await store.destroy('leaves');
        const types = () => received.map((e) => `${e.sid} ${e.type}`).sort();
        const expected = ['expires created', 'expires expired', 'leaves created', 'leaves destroyed'];
        await waitFor(() => types().length >= expected.length, { timeout: 15_000, what: `four events, got ${types().join(', ')}` });
        expect(types()).toEqual(expected);
      } finally {
        await watcher.close();
        await store.close();
      }
    } finally {
      await client.close();
    }
  });
});
