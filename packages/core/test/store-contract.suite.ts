/**
 * The Store contract, as a suite fed by a factory so the same tests run against every client
 * (ioredis, node-redis: test-support's createTestClient) on a standalone Redis
 * (store-contract.test.ts) and a Redis Cluster (store-contract.cluster.test.ts). Every command
 * the suite sends itself names one key, so it also works through a Cluster client.
 */
import { type TestClient, waitFor } from '@live-session/test-support';
import { isWrongType, LiveSessionError, LiveSessionStore, type LiveSessionStoreOptions } from '../src';
import { cookieJson, expressCookie, hashOf, rejectionOf } from './helpers';

export interface ContractTarget {
  /** The client the store and the suite use, and how the suite looks at Redis through it. */
  client: TestClient;
  /** Closes what the factory opened, after the suite. */
  close(): Promise<void>;
  /** How many masters: a Cluster only (the suite checks sessions land on every one). */
  masters?: number;
}

type Dict = Record<string, unknown>;

/** Tolerance for `cookie.expires`, which is derived from the key's TTL and refreshed on read. */
const EXPIRY_TOLERANCE = 5_000;
const HOUR = 60 * 60 * 1000;

/**
 * `options`: more store options, e.g. `{ cache: true }`: the contract holds whether reads come from
 * memory or from Redis.
 */
export function storeContractSuite(
  name: string,
  factory: () => Promise<ContractTarget>,
  { prefix = 'contract[a]:', options = {} }: { prefix?: string; options?: Partial<LiveSessionStoreOptions> } = {},
): void {
  describe(`Store contract (${name})`, () => {
    let target: ContractTarget;
    let client: TestClient;
    let store: LiveSessionStore;
    let sidCounter = 0;
    const newSid = () => `sid-${process.pid}-${++sidCounter}`;
    const keyOf = (sid: string) => prefix + sid;
    const pttl = async (sid: string) => Number(await client.command(keyOf(sid), 'PTTL', keyOf(sid)));
    const exists = async (key: string) => Number(await client.command(key, 'EXISTS', key));

    beforeAll(async () => {
      target = await factory();
      client = target.client;
      // A generous timeout: 1,000 concurrent writes on a loaded 2-core machine; timeouts are tested elsewhere.
      store = new LiveSessionStore({ client: client.client, prefix, lifetime: 2 * HOUR, timeout: 15_000, ...options });
    });
    afterAll(async () => {
      await store?.close();
      await target?.close();
    });
    beforeEach(async () => {
      await store.clear();
    });

    /** `got` equals `expected` after a JSON round trip, except cookie.expires, compared within a tolerance. */
    function expectSameSession(got: unknown, expected: Dict): void {
      const json = JSON.parse(JSON.stringify(expected)) as Dict;
      const gotRecord = got as Dict;
      const expectedCookie = json.cookie as Dict | undefined;
      if (expectedCookie && typeof expectedCookie.expires === 'string') {
        const gotCookie = gotRecord.cookie as Dict;
        expect(typeof gotCookie.expires).toBe('string');
        expect(Math.abs(Date.parse(gotCookie.expires as string) - Date.parse(expectedCookie.expires))).toBeLessThan(EXPIRY_TOLERANCE);
        expect({ ...gotRecord, cookie: { ...gotCookie, expires: 'compared above' } }).toEqual({ ...json, cookie: { ...expectedCookie, expires: 'compared above' } });
      } else {
        expect(got).toEqual(json);
      }
    }

    describe('round trip', () => {
      it('gives back what was set, deep-equal after JSON', async () => {
        const sid = newSid();
        const sess = {
          cookie: cookieJson(HOUR),
          user: { id: 42, name: 'Ada Lovelace ✓ 🚀', roles: ['admin', 'dev'], manager: null },
          cart: [{ sku: 'A-1', qty: 2 }, { sku: 'B-2', qty: 1 }],
          flags: [true, false, null],
          count: 0,
          ratio: 0.1 + 0.2,
          empty: {},
          text: 'line 1\nline 2 "quoted" \\ back',
          when: new Date('2024-02-29T12:00:00.000Z'),
          dropped: undefined,
          'key with spaces.and:dots': 'ok',
        };
        await store.set(sid, sess as never);
        const got = await store.get(sid);
        expectSameSession(got, sess);
        expect(got).not.toHaveProperty('dropped');
      });

      it('round-trips an express-session Cookie instance', async () => {
        const sid = newSid();
        const cookie = expressCookie({ maxAge: HOUR, sameSite: 'lax', secure: true, domain: 'example.com' });
        await store.set(sid, { cookie, user: 'ada' } as never);
        expectSameSession(await store.get(sid), { cookie, user: 'ada' });
      });

      it('round-trips a browser-session cookie (no expiry) and a cookie of unusual shape', async () => {
        const plain = { cookie: cookieJson(null), n: 1 };
        const sid1 = newSid();
        await store.set(sid1, plain as never);
        expect(await store.get(sid1)).toEqual(plain);

        const odd = { cookie: { originalMaxAge: HOUR, expires: 'Tue, 01 Jan 2999 00:00:00 GMT', path: '/app', httpOnly: false, extra: [1] }, n: 2 };
        const sid2 = newSid();
        await store.set(sid2, odd as never);
        expect(await store.get(sid2)).toEqual(odd);
      });

      it('answers null for a missing session, with promises and with callbacks', async () => {
        expect(await store.get(newSid())).toBeNull();
        const viaCallback = await new Promise((resolve, reject) => store.get(newSid(), (err, value) => (err ? reject(err) : resolve(value))));
        expect(viaCallback).toBeNull();
      });

      it('serves every method through callbacks too', async () => {
        const sid = newSid();
        const sess = { cookie: cookieJson(HOUR), user: 'cb' };
        await new Promise<void>((resolve, reject) => store.set(sid, sess as never, (err) => (err ? reject(err) : resolve())));
        const got = await new Promise((resolve, reject) => store.get(sid, (err, value) => (err ? reject(err) : resolve(value))));
        expectSameSession(got, sess);
        await new Promise<void>((resolve, reject) => store.touch(sid, sess as never, (err) => (err ? reject(err) : resolve())));
        expect(await new Promise((resolve, reject) => store.length((err, n) => (err ? reject(err) : resolve(n))))).toBe(1);
        const all = await new Promise<Dict>((resolve, reject) => store.all((err, value) => (err ? reject(err) : resolve(value as Dict))));
        expect(Object.keys(all)).toEqual([sid]);
        await new Promise<void>((resolve, reject) => store.destroy(sid, (err) => (err ? reject(err) : resolve())));
        expect(await exists(keyOf(sid))).toBe(0);
        await new Promise<void>((resolve, reject) => store.clear((err) => (err ? reject(err) : resolve())));
      });
    });

    describe('lifetime', () => {
      it('takes the TTL from cookie.expires', async () => {
        const sid = newSid();
        // A cookie that was issued for an hour and has 20 minutes left.
        const expires = new Date(Date.now() + 20 * 60 * 1000).toISOString();
        await store.set(sid, { cookie: { ...cookieJson(HOUR), expires }, n: 1 } as never);
        const ttl = await pttl(sid);
        expect(ttl).toBeGreaterThan(20 * 60 * 1000 - EXPIRY_TOLERANCE);
        expect(ttl).toBeLessThanOrEqual(20 * 60 * 1000);
      });

      it('takes the TTL from the lifetime option when the cookie has no expiry, or there is no cookie', async () => {
        const lifetimeStore = new LiveSessionStore({ client: client.client, prefix, lifetime: 123_456_000 });
        const sid1 = newSid();
        await lifetimeStore.set(sid1, { cookie: cookieJson(null), n: 1 } as never);
        const ttl1 = await pttl(sid1);
        expect(ttl1).toBeGreaterThan(123_456_000 - EXPIRY_TOLERANCE);
        expect(ttl1).toBeLessThanOrEqual(123_456_000);

        const sid2 = newSid();
        await lifetimeStore.set(sid2, { n: 2 } as never);
        expect(await pttl(sid2)).toBeGreaterThan(123_456_000 - EXPIRY_TOLERANCE);
      });

      it("express-session's get shows the cookie as the request's touch leaves it, and refreshes only where it reads with the get script; get as a promise always refreshes", async () => {
        const sid = newSid();
        await store.set(sid, { cookie: { ...cookieJson(HOUR), expires: new Date(Date.now() + 60_000).toISOString() }, n: 1 } as never);
        expect(await pttl(sid)).toBeLessThanOrEqual(60_000);
        const got = (await new Promise<unknown>((resolve, reject) => store.get(sid, (err, data) => (err ? reject(err) : resolve(data))))) as Dict;
        // From Redis on a client that batches (node-redis, ioredis with enableAutoPipelining): one HGETALL,
        // the TTL untouched (the touch that ends the request moves it); the get script refreshes it. From
        // memory (cache): untouched, unless Redis had to be asked whether the session still exists.
        expect((await pttl(sid)) > 60_000).toBe(!store.redis.batches && !options.cache);
        expect(Math.abs(Date.parse((got.cookie as Dict).expires as string) - (Date.now() + HOUR))).toBeLessThan(EXPIRY_TOLERANCE);
        await store.touch(sid, got as never);
        expect(await pttl(sid)).toBeGreaterThan(HOUR - EXPIRY_TOLERANCE);

        // A read outside a request (the promise form) refreshes, as getSession does.
        const sid3 = newSid();
        await store.set(sid3, { cookie: { ...cookieJson(HOUR), expires: new Date(Date.now() + 60_000).toISOString() }, n: 1 } as never);
        await store.get(sid3);
        expect(await pttl(sid3)).toBeGreaterThan(HOUR - EXPIRY_TOLERANCE);

        // A browser-session cookie is refreshed to the lifetime.
        const sid2 = newSid();
        await store.set(sid2, { cookie: cookieJson(null), n: 1 } as never);
        await client.command(keyOf(sid2), 'PEXPIRE', keyOf(sid2), 60_000);
        await store.touch(sid2, (await store.get(sid2)) as never);
        expect(await pttl(sid2)).toBeGreaterThan(2 * HOUR - EXPIRY_TOLERANCE);
      });

      it('getSession refreshes the TTL in the read itself', async () => {
        const sid = newSid();
        await store.set(sid, { cookie: { ...cookieJson(HOUR), expires: new Date(Date.now() + 60_000).toISOString() }, n: 1 } as never);
        const got = (await store.getSession(sid)) as unknown as Dict;
        expect(await pttl(sid)).toBeGreaterThan(HOUR - EXPIRY_TOLERANCE);
        expect(Math.abs(Date.parse((got.cookie as Dict).expires as string) - (Date.now() + HOUR))).toBeLessThan(EXPIRY_TOLERANCE);
      });

      it('records a fixed expiry in $e, and reads one stored without it (an older version) by its TTL', async () => {
        const sid = newSid();
        const fixed = Date.now() + 20 * 60 * 1000;
        await store.set(sid, { cookie: { ...cookieJson(null), originalMaxAge: null, expires: new Date(fixed).toISOString() }, n: 1 } as never);
        expect(Number((await hashOf(client, keyOf(sid))).$e)).toBe(fixed);
        // Without $e (and no $t: the cookie fixes the expiry) the plain read cannot tell it: the script's PTTL does.
        await client.command(keyOf(sid), 'HDEL', keyOf(sid), '$e');
        const got = (await store.get(sid)) as unknown as Dict;
        expect(Math.abs(Date.parse((got.cookie as Dict).expires as string) - fixed)).toBeLessThan(EXPIRY_TOLERANCE);
      });

      it('records every expiry in $e with touchAfter (also of a write outside a request), and removes it without', async () => {
        const recording = new LiveSessionStore({ client: client.client, prefix, touchAfter: 60_000 });
        const sid = newSid();
        await recording.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
        await client.command(keyOf(sid), 'PEXPIRE', keyOf(sid), 60_000);
        await recording.putSession(sid, 'n', 2); // keeps the stored refresh interval: $e moves with the TTL
        const recorded = Number((await hashOf(client, keyOf(sid))).$e);
        expect(Math.abs(recorded - (Date.now() + HOUR))).toBeLessThan(EXPIRY_TOLERANCE);
        expect(Math.abs(recorded - (Date.now() + (await pttl(sid))))).toBeLessThan(EXPIRY_TOLERANCE);
        // A store without touchAfter does not record a refreshing session's expiry: it removes the old one.
        await store.putSession(sid, 'n', 3);
        expect((await hashOf(client, keyOf(sid))).$e).toBeUndefined();
      });

      it('touch extends both the TTL and the cookie expiry seen by the next get', async () => {
        // A cookie with a fixed expiry (no maxAge): get does not refresh it, only touch does.
        const sid = newSid();
        const soon = new Date(Date.now() + 60_000).toISOString();
        await store.set(sid, { cookie: { ...cookieJson(null), originalMaxAge: null, expires: soon }, n: 1 } as never);
        expect(await pttl(sid)).toBeLessThanOrEqual(60_000);

        const later = new Date(Date.now() + HOUR).toISOString();
        await store.touch(sid, { cookie: { ...cookieJson(null), originalMaxAge: null, expires: later }, n: 1 } as never);
        expect(await pttl(sid)).toBeGreaterThan(HOUR - EXPIRY_TOLERANCE);
        const got = (await store.get(sid)) as unknown as Dict;
        expect(Math.abs(Date.parse((got.cookie as Dict).expires as string) - Date.parse(later))).toBeLessThan(EXPIRY_TOLERANCE);
        expect(got.n).toBe(1);

        // A maxAge cookie touched with a new maxAge: the TTL follows, and so does the next get.
        const sid2 = newSid();
        await store.set(sid2, { cookie: cookieJson(60_000), n: 2 } as never);
        await store.touch(sid2, { cookie: cookieJson(3 * HOUR), n: 2 } as never);
        expect(await pttl(sid2)).toBeGreaterThan(3 * HOUR - EXPIRY_TOLERANCE);
        const got2 = (await store.get(sid2)) as unknown as Dict;
        expect((got2.cookie as Dict).originalMaxAge).toBe(3 * HOUR);
        expect(Math.abs(Date.parse((got2.cookie as Dict).expires as string) - (Date.now() + 3 * HOUR))).toBeLessThan(EXPIRY_TOLERANCE);
      });

      it("touch never re-creates a session destroyed after the request's read (plain refresh, and touchAfter's script)", async () => {
        for (const touchAfter of [0, 60_000]) {
          const touching = new LiveSessionStore({ client: client.client, prefix, touchAfter });
          const sid = newSid();
          await touching.set(sid, { cookie: { ...cookieJson(HOUR), expires: new Date(Date.now() + 60_000).toISOString() }, n: 1 } as never);
          // As express-session loads it: createSession inside get's callback, on the request.
          const req = { sessionID: sid };
          const session = await new Promise<Dict>((resolve, reject) =>
            touching.get(sid, (err, data) => (err ? reject(err) : resolve(touching.createSession(req as never, data!) as unknown as Dict))),
          );
          await store.destroy(sid);
          await touching.touch(sid, session as never);
          expect(await exists(keyOf(sid))).toBe(0);
        }
      });

      it('touch never re-creates a missing session', async () => {
        const sid = newSid();
        await store.touch(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
        expect(await exists(keyOf(sid))).toBe(0);
      });

      it('a set whose cookie has already expired deletes the session', async () => {
        const sid = newSid();
        await store.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
        expect(await exists(keyOf(sid))).toBe(1);
        await store.set(sid, { cookie: { ...cookieJson(HOUR), expires: new Date(Date.now() - 1000).toISOString() }, n: 2 } as never);
        expect(await exists(keyOf(sid))).toBe(0);
        expect(await store.get(sid)).toBeNull();

        // ... and never creates one.
        const sid2 = newSid();
        await store.set(sid2, { cookie: { ...cookieJson(HOUR), expires: new Date(Date.now() - 1000).toISOString() }, n: 3 } as never);
        expect(await exists(keyOf(sid2))).toBe(0);
      });
    });

    describe('destroy', () => {
      it('removes the session and only it', async () => {
        const [a, b] = [newSid(), newSid()];
        await store.set(a, { cookie: cookieJson(HOUR), n: 1 } as never);
        await store.set(b, { cookie: cookieJson(HOUR), n: 2 } as never);
        await store.destroy(a);
        expect(await store.get(a)).toBeNull();
        expect(await exists(keyOf(a))).toBe(0);
        expect(((await store.get(b)) as unknown as Dict).n).toBe(2);
        await expect(store.destroy(a)).resolves.toBeUndefined(); // destroying again is fine
      });
    });

    describe('all, ids, length, clear: only within the prefix', () => {
      // Keys that look like sessions but are not ours: they must be neither listed nor removed.
      const decoys: Record<string, 'hash' | 'set'> = {
        'other:sid-1': 'hash',
        'live_session:sid-1': 'hash',
        [`${prefix.slice(0, -1)}_more:sid-1`]: 'hash', // a prefix that starts the same
        [`${prefix.replace(/[[\]]/g, '')}sid-1`]: 'hash', // what the prefix would match as an unescaped glob
        // a key of another type under our prefix (a string there is a connect-redis session: see connect-redis-paths.test.ts)
        [`${prefix}not-a-session`]: 'set',
      };

      async function putDecoys(): Promise<void> {
        for (const [key, type] of Object.entries(decoys)) {
          if (type === 'hash') await client.command(key, 'HSET', key, 'cookie', '{"m":1}', 'user', '"decoy"');
          else await client.command(key, 'SADD', key, 'decoy'); // not a string: a string under the prefix is a connect-redis session
        }
      }
      async function expectDecoysIntact(): Promise<void> {
        for (const [key, type] of Object.entries(decoys)) {
          if (type === 'hash') expect({ key, hash: { ...(await hashOf(client, key)) } }).toEqual({ key, hash: { cookie: '{"m":1}', user: '"decoy"' } });
          else expect({ key, value: await client.command(key, 'SMEMBERS', key) }).toEqual({ key, value: ['decoy'] });
        }
      }
      afterEach(async () => {
        for (const key of Object.keys(decoys)) await client.command(key, 'DEL', key);
      });

      it('lists and counts only our sessions, and clear removes only them', async () => {
        await putDecoys();
        const sids = [newSid(), newSid(), newSid()];
        for (const [i, sid] of sids.entries()) await store.set(sid, { cookie: cookieJson(HOUR), i } as never);

        expect(await store.length()).toBe(3);
        expect((await store.ids()).sort()).toEqual([...sids].sort());
        const all = await store.all();
        expect(Object.keys(all).sort()).toEqual([...sids].sort());
        for (const [i, sid] of sids.entries()) expectSameSession(all[sid], { cookie: cookieJson(HOUR), i });

        await store.clear();
        expect(await store.length()).toBe(0);
        for (const sid of sids) expect(await exists(keyOf(sid))).toBe(0);
        await expectDecoysIntact();
      });

      it('handles 1,000 sessions', async () => {
        await putDecoys();
        const sids = Array.from({ length: 1000 }, () => newSid());
        await Promise.all(sids.map((sid, i) => store.set(sid, { cookie: cookieJson(HOUR), i } as never)));
        expect(await store.length()).toBe(1000);
        expect(new Set(await store.ids())).toEqual(new Set(sids));
        const all = await store.all();
        expect(Object.keys(all)).toHaveLength(1000);
        sids.forEach((sid, i) => expect((all[sid] as unknown as Dict).i).toBe(i));
        await store.clear();
        expect(await store.length()).toBe(0);
        await expectDecoysIntact();
      });
    });

    describe('change messages', () => {
      it('publishes every change and destroy on the channel named like the key, for sessions on every shard', async () => {
        const received = new Map<string, string[]>();
        // The default publish command: SPUBLISH on a Cluster (consumers SSUBSCRIBE), else PUBLISH.
        const subscriber = await client.subscriber(client.isCluster, (channel, message) => received.set(channel, [...(received.get(channel) ?? []), message]));
        try {
          const sids = Array.from({ length: 12 }, () => newSid());
          if (target.masters) {
            // On a Cluster the sids must land on every master, or this proves nothing.
            const shards = new Set(await Promise.all(sids.map((sid) => client.masterOf(keyOf(sid)))));
            expect(shards.size).toBe(target.masters);
          }
          for (const sid of sids) await subscriber.subscribe(keyOf(sid));
          for (const sid of sids) {
            await store.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
            await store.putSession(sid, 'cart', [sid]);
            await store.destroy(sid);
          }
          await waitFor(() => sids.every((sid) => (received.get(keyOf(sid)) ?? []).length >= 3), { what: 'three messages on every channel' });
          for (const sid of sids) {
            expect({ sid, messages: received.get(keyOf(sid))!.map((m) => JSON.parse(m) as Dict) }).toEqual({
              sid,
              messages: [
                { format: 1, event: 'change', version: 1, set: { n: 1 }, unset: [] },
                { format: 1, event: 'change', version: 2, set: { cart: [sid] }, unset: [] },
                { format: 1, event: 'destroy', version: 3, reason: 'logout' },
              ],
            });
          }
        } finally {
          await subscriber.close();
        }
      });
    });

    describe('the client', () => {
      it('runs its scripts again after Redis forgot them (SCRIPT FLUSH, as after a restart or on a new node)', async () => {
        const sid = newSid();
        await store.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
        await client.onEveryMaster('SCRIPT', 'FLUSH');
        expect(((await store.get(sid)) as unknown as Dict).n).toBe(1);
        await client.onEveryMaster('SCRIPT', 'FLUSH');
        await store.putSession(sid, 'n', 2);
        await client.onEveryMaster('SCRIPT', 'FLUSH');
        expect((await store.getSessionStates([sid, newSid()])).get(sid)?.session).toMatchObject({ n: 2 });
      });

      it('reports a key of another type under the prefix (not a hash, not a connect-redis string) as ERR_LIVE_SESSION_CORRUPT, and leaves it', async () => {
        const sid = newSid();
        await client.command(keyOf(sid), 'SADD', keyOf(sid), 'not a session');
        for (const call of [() => store.get(sid), () => store.putSession(sid, 'n', 1)]) {
          const error = await rejectionOf(call());
          expect(error).toBeInstanceOf(LiveSessionError);
          expect(error.code).toBe('ERR_LIVE_SESSION_CORRUPT');
          expect(error.message).toContain(sid);
        }
        expect(isWrongType(await rejectionOf(store.get('')))).toBe(false);
        expect(await client.command(keyOf(sid), 'SMEMBERS', keyOf(sid))).toEqual(['not a session']);
        await client.command(keyOf(sid), 'DEL', keyOf(sid));
      });
    });

    describe('memory', () => {
      it('keeps a cookie + user + 3-item cart session in listpack, within 1.2x of the same session as a JSON string', async () => {
        const sid = newSid();
        const sess = {
          cookie: expressCookie({ maxAge: 24 * HOUR }),
          user: { id: 4242, name: 'Ada Lovelace', role: 'admin' },
          cart: [
            { id: 101, qty: 1 },
            { id: 202, qty: 2 },
            { id: 303, qty: 1 },
          ],
        };
        await store.set(sid, sess as never);
        const key = keyOf(sid);
        expect(await client.command(key, 'OBJECT', 'ENCODING', key)).toBe('listpack');

        // connect-redis's layout: the whole session as one JSON string, with a TTL, under a key of the same length.
        const stringKey = `#${key.slice(1)}`;
        await client.command(stringKey, 'SET', stringKey, JSON.stringify(sess), 'PX', 24 * HOUR);
        try {
          const hashBytes = Number(await client.command(key, 'MEMORY', 'USAGE', key, 'SAMPLES', '0'));
          const stringBytes = Number(await client.command(stringKey, 'MEMORY', 'USAGE', stringKey, 'SAMPLES', '0'));
          expect(stringBytes).toBeGreaterThan(0);
          expect(hashBytes / stringBytes).toBeLessThanOrEqual(1.2);
        } finally {
          await client.command(stringKey, 'DEL', stringKey);
        }
      });
    });

    describe('sessions that connect-redis stored (a JSON string per key, under the same prefix)', () => {
      it('are migrated to hashes on first read, and listed, read and cleared on every master', async () => {
        const sids = Array.from({ length: 6 }, () => newSid());
        for (const [i, sid] of sids.entries()) await client.command(keyOf(sid), 'SET', keyOf(sid), JSON.stringify({ cookie: cookieJson(HOUR), i }), 'PX', HOUR);
        expect((await store.ids()).sort()).toEqual([...sids].sort());
        expect(await store.length()).toBe(6);
        expect(((await store.get(sids[0])) as unknown as Dict).i).toBe(0);
        expect(await client.command(keyOf(sids[0]), 'TYPE', keyOf(sids[0]))).toBe('hash');
        expect(await client.command(keyOf(sids[1]), 'TYPE', keyOf(sids[1]))).toBe('string');
        const all = await store.all();
        expect(Object.keys(all).sort()).toEqual([...sids].sort());
        sids.forEach((sid, i) => expectSameSession(all[sid], { cookie: cookieJson(HOUR), i }));
        await store.clear();
        expect(await store.length()).toBe(0);
        for (const sid of sids) expect(await client.command(keyOf(sid), 'EXISTS', keyOf(sid))).toBe(0);
      });
    });
  });
}
