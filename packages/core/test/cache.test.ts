/**
 * Reads from memory (the `cache` option), against a real Redis, with each client library: what a
 * cached read sends Redis, and every way a cached session could go stale: a write, logout or cookie
 * change through another store, a key deleted outside the library (DEL, FLUSHALL), a TTL that
 * passed, the subscriber connection killed or stalled, Redis restarted empty; and the bounds
 * (maxSessions, idleAfter) with other followers holding sessions. Separate processes:
 * cache.multi-process.test.ts.
 */
import { CLIENT_KINDS, type ClientKind, createTestClient, startRedis, startStallProxy, type TestClient, type TestRedis, waitFor } from '@live-session/test-support';
import type { Redis } from 'ioredis';
import { LiveSessionStore, type LiveSessionStoreOptions } from '../src';
import { CONFIRM_MS } from '../src/cache';
import { cookieJson, rejectionOf, Resources } from './helpers';

const HOUR = 60 * 60 * 1000;
type Dict = Record<string, unknown>;

let redis: TestRedis;
const resources = new Resources();
let admin: Redis;
let counter = 0;
const newSid = () => `cache-${process.pid}-${++counter}`;
const keyOf = (sid: string) => `live_session:${sid}`;

beforeAll(async () => {
  redis = await startRedis({ restartable: true });
  admin = resources.redis(redis);
});
afterAll(async () => {
  await resources.closeAll();
  await redis.close();
});

/** A store of its own (own client, own subscriber connection), as one app server has. */
async function server(kind: ClientKind, options: Partial<LiveSessionStoreOptions> = {}, url = redis.url): Promise<{ store: LiveSessionStore; client: TestClient }> {
  const client = resources.add(await createTestClient(kind, { url }, { fastReconnect: true }), (c) => c.close());
  const store = resources.add(new LiveSessionStore({ client: client.client, timeout: 1000, ...options }), (s) => s.close());
  return { store, client };
}

/** express-session's read: get with a callback. */
function requestRead(store: LiveSessionStore, sid: string): Promise<Dict | null> {
  return new Promise((resolve, reject) => store.get(sid, (err, data) => (err ? reject(err) : resolve((data ?? null) as Dict | null))));
}

/** The commands Redis ran, counted by name, between two calls (INFO commandstats). */
async function commandCounts(): Promise<Map<string, number>> {
  const info = (await admin.info('commandstats')) as string;
  return new Map([...info.matchAll(/cmdstat_(\w+):calls=(\d+)/g)].map(([, name, calls]) => [name, Number(calls)]));
}

function sent(before: Map<string, number>, after: Map<string, number>, name: string): number {
  return (after.get(name) ?? 0) - (before.get(name) ?? 0);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const kind of CLIENT_KINDS) {
  describe(`reads from memory (${kind})`, () => {
    it("serves a session it follows without HGETALL or a script: its client sends nothing else but one refresh a second", async () => {
      const a = await server(kind, { cache: true });
      const b = await server(kind, { cache: true });
      const sid = newSid();
      await a.store.set(sid, { cookie: cookieJson(HOUR), cart: [1] } as never);
      expect(await requestRead(b.store, sid)).toMatchObject({ cart: [1] }); // taken in: subscribed, read once
      expect(b.store.replica.channels).toContain(keyOf(sid));
      const before = await commandCounts();
      for (let i = 0; i < 50; i++) expect(await requestRead(b.store, sid)).toMatchObject({ cart: [1] });
      await b.store.getSession(sid);
      const after = await commandCounts();
      for (const name of ['hgetall', 'evalsha', 'eval', 'hmget', 'pttl']) expect(sent(before, after, name)).toBe(0);
      // At most the confirmation that the session still exists (one PEXPIRE a second), and the PINGs
      // ordering the reads after every completed write (one per tick, on the subscriber connection).
      expect(sent(before, after, 'pexpire')).toBeLessThanOrEqual(1);
      expect(sent(before, after, 'ping')).toBeGreaterThan(0);
    });

    it('reads what another server wrote at once: 20 sessions, writes alternating between the two, 0 stale reads', async () => {
      const a = await server(kind, { cache: true });
      const b = await server(kind, { cache: true });
      const sids = Array.from({ length: 20 }, newSid);
      for (const sid of sids) await a.store.set(sid, { cookie: cookieJson(HOUR), n: 0 } as never);
      let stale = 0;
      for (let n = 1; n <= 25; n++) {
        const [writer, reader] = n % 2 ? [a.store, b.store] : [b.store, a.store];
        await Promise.all(sids.map((sid) => writer.putSession(sid, 'n', n)));
        const read = await Promise.all(sids.map((sid) => requestRead(reader, sid)));
        stale += read.filter((session) => session?.n !== n).length;
      }
      expect(stale).toBe(0);
      expect(b.store.replica.channels.length).toBe(20); // and they were read from memory
    });

    it('a logout, a revocation and a cookie change made through another store are read here at once', async () => {
      const a = await server(kind, { cache: true });
      const b = await server(kind, { cache: true });
      const [logout, revoked, remembered] = [newSid(), newSid(), newSid()];
      for (const sid of [logout, revoked, remembered]) {
        await a.store.set(sid, { cookie: cookieJson(HOUR), user: 'ada' } as never);
        await requestRead(b.store, sid);
      }
      await a.store.destroy(logout);
      expect(await requestRead(b.store, logout)).toBeNull();
      await a.store.clear(); // revokes every session
      expect(await requestRead(b.store, revoked)).toBeNull();
      expect(await b.store.getSession(remembered)).toBeNull();

      // A cookie-only change (remember me): no data changed, the version moved, the new cookie is read.
      const sid = newSid();
      await a.store.set(sid, { cookie: cookieJson(HOUR), user: 'ada' } as never);
      await requestRead(b.store, sid);
      const loaded = (await requestRead(a.store, sid)) as Dict;
      await a.store.set(sid, { ...loaded, cookie: cookieJson(30 * 24 * HOUR) } as never);
      const read = (await requestRead(b.store, sid)) as { cookie: { originalMaxAge: number } };
      expect(read.cookie.originalMaxAge).toBe(30 * 24 * HOUR);
    });

    it('a session deleted outside the library (DEL, FLUSHALL) is served at most CONFIRM_MS after, never later', async () => {
      const b = await server(kind, { cache: true });
      for (const remove of ['DEL', 'FLUSHALL'] as const) {
        const sid = newSid();
        await b.store.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
        await requestRead(b.store, sid);
        if (remove === 'DEL') await admin.del(keyOf(sid));
        else await admin.flushall();
        // The bound itself (and a few ms for a timer that fires early): any read that starts now must not see the session.
        await sleep(CONFIRM_MS + 5);
        expect(await requestRead(b.store, sid)).toBeNull();
        expect(await b.store.getSession(sid)).toBeNull();
        expect(b.store.replica.channels).not.toContain(keyOf(sid)); // nothing left followed
      }
    });

    it('never serves a session whose TTL passed; one another server refreshed in time is served', async () => {
      const a = await server(kind, { cache: true });
      const b = await server(kind, { cache: true });
      const [expiring, refreshed] = [newSid(), newSid()];
      for (const sid of [expiring, refreshed]) {
        await a.store.set(sid, { cookie: cookieJson(1_500), n: 1 } as never);
        expect(await requestRead(b.store, sid)).toMatchObject({ n: 1 });
      }
      // Touched on A right before its TTL passes: B's knowledge of the expiry is a lower bound, past
      // which it asks Redis.
      await sleep(1_000);
      await a.store.getSession(refreshed);
      await waitFor(async () => (await admin.exists(keyOf(expiring))) === 0, { what: 'the TTL to pass' });
      expect(await requestRead(b.store, expiring)).toBeNull();
      expect(await requestRead(b.store, refreshed)).toMatchObject({ n: 1 });
    });

    it('with its subscriber connection killed between writes (CLIENT KILL TYPE pubsub), no read is stale', async () => {
      const a = await server(kind, { cache: true });
      const b = await server(kind, { cache: true });
      const sids = Array.from({ length: 5 }, newSid);
      for (const sid of sids) {
        await a.store.set(sid, { cookie: cookieJson(HOUR), n: 0 } as never);
        await requestRead(b.store, sid);
      }
      let stale = 0;
      for (let n = 1; n <= 10; n++) {
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
        await Promise.all(sids.map((sid) => a.store.putSession(sid, 'n', n)));
        const read = await Promise.all(sids.map((sid) => requestRead(b.store, sid)));
        stale += read.filter((session) => session?.n !== n).length;
      }
      expect(stale).toBe(0);
      // Once the subscriber is back and every session read again, reads come from memory again.
      await waitFor(() => b.store.replica.channels.length === sids.length, { what: 'the resubscription' });
      await waitFor(
        async () => {
          const before = await commandCounts();
          await Promise.all(sids.map((sid) => requestRead(b.store, sid)));
          return sent(before, await commandCounts(), 'hgetall') === 0;
        },
        { what: 'reads from memory again' },
      );
    });

    it('reads in flight while the subscriber connection is killed neither fail nor answer old data', async () => {
      const a = await server(kind, { cache: true });
      const b = await server(kind, { cache: true });
      const sid = newSid();
      await a.store.set(sid, { cookie: cookieJson(HOUR), n: 0 } as never);
      await requestRead(b.store, sid);
      for (let n = 1; n <= 10; n++) {
        await a.store.putSession(sid, 'n', n);
        const [, ...reads] = await Promise.all([admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'), ...Array.from({ length: 10 }, () => requestRead(b.store, sid))]);
        expect(reads.map((session) => session?.n)).toEqual(Array(10).fill(n));
      }
    });

    it('on a stalled link (bytes held, nothing closed), reads fail with the timeout error, never old data; then serve from memory again', async () => {
      const proxy = resources.add(await startStallProxy(redis), (p) => p.close());
      const a = await server(kind, { cache: true });
      const b = await server(kind, { cache: true, timeout: 500 }, proxy.url);
      const sid = newSid();
      await a.store.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
      expect(await requestRead(b.store, sid)).toMatchObject({ n: 1 });
      proxy.freeze();
      await a.store.putSession(sid, 'n', 2); // B cannot hear of it
      const err = await rejectionOf(requestRead(b.store, sid));
      expect(err.code).toBe('ERR_LIVE_SESSION_TIMEOUT');
      await expect(b.store.getSession(sid)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_TIMEOUT' });
      proxy.thaw();
      await waitFor(async () => (await requestRead(b.store, sid).catch(() => null))?.n === 2, { what: 'the new value once the link flows' });
      await waitFor(
        async () => {
          const before = await commandCounts();
          await requestRead(b.store, sid);
          return sent(before, await commandCounts(), 'hgetall') === 0;
        },
        { what: 'reads from memory again' },
      );
      expect(await requestRead(b.store, sid)).toMatchObject({ n: 2 });
    });

    it('maxSessions bounds the sessions followed for reads; idle ones are let go; sessions followed by others stay', async () => {
      const a = await server(kind, {});
      const b = await server(kind, { cache: { maxSessions: 500, idleAfter: 1_000 } });
      const sids = Array.from({ length: 2_000 }, newSid);
      for (let i = 0; i < sids.length; i += 100) await Promise.all(sids.slice(i, i + 100).map((sid) => a.store.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never)));
      // Ten sessions followed by something else (as socket.io's rooms do).
      const held = sids.slice(0, 10).map((sid) => b.store.replica.follow(sid, {}));
      await Promise.all(held.map((follow) => follow.ready));
      for (let round = 0; round < 2; round++) {
        for (let i = 0; i < sids.length; i += 50) {
          const read = await Promise.all(sids.slice(i, i + 50).map((sid) => requestRead(b.store, sid)));
          expect(read.every((session) => session?.n === 1)).toBe(true);
        }
      }
      expect(b.store.replica.channels.length).toBeLessThanOrEqual(500 + 10);
      for (const sid of sids.slice(0, 10)) expect(b.store.replica.channels).toContain(keyOf(sid));
      // Nobody reads for idleAfter: only the held ones stay followed.
      await waitFor(() => b.store.replica.channels.length === 10, { what: 'idle sessions let go', timeout: 10_000 });
      for (const follow of held) follow.release();
      await waitFor(() => b.store.replica.channels.length === 0, { what: 'the last ones let go' });
    });

    it('direct-API writes through a cached store read back what they wrote; updateSession retries against Redis after a conflict', async () => {
      const a = await server(kind, { cache: true });
      const b = await server(kind, { cache: true });
      const sid = newSid();
      await a.store.set(sid, { cookie: cookieJson(HOUR), cart: [] } as never);
      await requestRead(b.store, sid);
      await b.store.putSession(sid, 'cart', [1]);
      expect(await requestRead(b.store, sid)).toMatchObject({ cart: [1] });
      // A value stored in another format (another writer): the cache's encoding differs, so the first
      // compare-and-set fails, and the next attempt reads Redis's own string.
      await admin.hset(keyOf(sid), 'cart', '[ 1 ]');
      const updated = await b.store.updateSession<number[]>(sid, 'cart', (cart = []) => [...cart, 2]);
      expect(updated).toMatchObject({ cart: [1, 2] });
      expect(await requestRead(a.store, sid)).toMatchObject({ cart: [1, 2] });
      const states = await b.store.getSessionStates([sid, newSid()]);
      expect([...states.values()].map((state) => state?.session)).toEqual([expect.objectContaining({ cart: [1, 2] }), undefined]);
    });
  });
}

describe('reads from memory across a Redis restart', () => {
  it('a Redis restarted empty: nothing it held is served', async () => {
    const b = await server('ioredis', { cache: true });
    const sid = newSid();
    await b.store.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
    expect(await requestRead(b.store, sid)).toMatchObject({ n: 1 });
    await redis.stop();
    await redis.start();
    await waitFor(async () => (await requestRead(b.store, sid).catch(() => 'failed')) === null, { what: 'the session read as gone' });
    expect(await b.store.getSession(sid)).toBeNull();
  });
});
