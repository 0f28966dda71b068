/**
 * The sessions of a user (the `userOf` option), as a suite fed by a factory so the same tests run
 * against a standalone Redis (user-index.test.ts) and a 3-master Cluster (user-index.cluster.test.ts).
 * Real HTTP through express-session with the cookie-keeping client; every check reads Redis itself.
 */
import { type CookieClient, waitFor } from '@live-session/test-support';
import type { Cluster, Redis } from 'ioredis';
import { LiveSessionStore } from '../src';
import { cookieJson, Resources, startApp, type TestApp } from './helpers';

/** A pub/sub connection of the test's own. */
export interface IndexSubscriber {
  subscribe(channel: string): Promise<unknown>;
  close(): unknown;
}

/** The index suite runs on ioredis (the store's client seam is covered by the contract suite on both clients). */
type RedisClient = Redis | Cluster;

export interface IndexTarget {
  client: RedisClient;
  close(): Promise<void>;
  /** Opens a subscriber that calls `onMessage` for every message on its channels. */
  subscriber(onMessage: (channel: string, message: string) => void): Promise<IndexSubscriber>;
}

type Dict = Record<string, unknown>;
const PREFIX = 'idx:';
const INDEX_PREFIX = 'idx_user:';
const HOUR = 60 * 60 * 1000;

const userOf = (session: unknown) => {
  const user = (session as Dict).user;
  return typeof user === 'string' ? user : null;
};

/** The standalone Redis, or every master of the Cluster. */
function nodesOf(client: RedisClient): Redis[] {
  return client.isCluster ? (client as unknown as { nodes(role: string): Redis[] }).nodes('master') : [client as Redis];
}

async function dbsize(client: RedisClient): Promise<number> {
  const sizes = await Promise.all(nodesOf(client).map((node) => node.dbsize()));
  return sizes.reduce((a, b) => a + b, 0);
}

/** Every key, with its PTTL, from every master. */
async function keysWithTtl(client: RedisClient): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (const node of nodesOf(client)) {
    const keys = await node.keys('*');
    for (const key of keys) result.set(key, await node.pttl(key));
  }
  return result;
}

/** Runs `fn` over `items` with at most `width` at a time. */
async function inBatches<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += width) results.push(...(await Promise.all(items.slice(i, i + width).map(fn))));
  return results;
}

export function userIndexSuite(name: string, factory: () => Promise<IndexTarget>): void {
  describe(`The sessions of a user (${name})`, () => {
    let target: IndexTarget;
    let client: Redis; // typed for the single-key commands the suite sends
    let store: LiveSessionStore;
    let described = 0;
    let app: TestApp;
    const resources = new Resources();

    const sessionKey = (sid: string) => PREFIX + sid;
    const indexKey = (user: string) => INDEX_PREFIX + user;
    const sidOf = async (browser: CookieClient) => (await browser.get('/session')).body.id as string;
    const listed = async (user: string) => (await store.sessionsOf(user)).map((s) => s.id).sort();
    /** Every session in Redis whose owner field names `user`. */
    const owned = async (user: string) => {
      const ids = await store.ids();
      const owners = await Promise.all(ids.map((sid) => client.hget(sessionKey(sid), '$u')));
      return ids.filter((_, i) => owners[i] === user).sort();
    };

    beforeAll(async () => {
      target = await factory();
      client = target.client as Redis;
      store = new LiveSessionStore({
        client: target.client,
        prefix: PREFIX,
        indexPrefix: INDEX_PREFIX,
        userOf,
        describe: (req, session) => {
          described++;
          return { agent: req?.headers['user-agent'] ?? null, user: (session as unknown as Dict).user };
        },
      });
      app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
    }, 60_000);
    afterAll(async () => {
      await resources.closeAll();
      await target?.close();
    });
    afterEach(() => {
      expect(app.errors).toEqual([]);
    });

    it('lists a user\'s sessions with when they were created, last active and expire, and what describe recorded', async () => {
      const before = Date.now();
      const phone = app.client();
      const laptop = app.client();
      await phone.post('/login', { user: 'ada' });
      await laptop.post('/login', { user: 'ada' });
      const sessions = await store.sessionsOf('ada');
      expect(sessions.map((s) => s.id).sort()).toEqual([await sidOf(phone), await sidOf(laptop)].sort());
      for (const s of sessions) {
        expect(s.createdAt).toBeGreaterThanOrEqual(before - 1000);
        expect(s.createdAt).toBeLessThanOrEqual(Date.now() + 1000);
        // A sliding cookie of an hour: last active = expiry - maxAge. The maxAge stored is the cookie's
        // originalMaxAge, which express-session derives from the clock (expires - now): a ms or more short
        // when the clock ticks between its two Date.now() calls.
        expect(s.expiresAt - s.lastActiveAt!).toBeLessThanOrEqual(HOUR);
        expect(s.expiresAt - s.lastActiveAt!).toBeGreaterThan(HOUR - 1000);
        expect(s.lastActiveAt!).toBeGreaterThanOrEqual(before - 1000);
        expect(s.info).toEqual({ agent: expect.any(String), user: 'ada' });
      }
      expect(sessions[0].createdAt).toBeLessThanOrEqual(sessions[1].createdAt); // oldest first
      // The index is one sorted set with a TTL no earlier than its sessions'.
      expect(await client.type(indexKey('ada'))).toBe('zset');
      const indexTtl = await client.pttl(indexKey('ada'));
      for (const s of sessions) expect(indexTtl).toBeGreaterThanOrEqual(await client.pttl(sessionKey(s.id)));
      await store.destroySessionsOf('ada');
    });

    it('asks describe when a session joins its owner\'s index, not at every save of it', async () => {
      const browser = app.client();
      const before = described;
      await browser.post('/login', { user: 'grace' });
      expect(described - before).toBe(1);
      // Each request remembers the owner it read: saving under the same owner describes nothing.
      await browser.post('/count');
      await browser.post('/count');
      expect(described - before).toBe(1);
      await store.destroySessionsOf('grace');
    });

    it('moves a session when its user changes, and forgets it at logout', async () => {
      const browser = app.client();
      await browser.post('/set', { cart: ['mug'] }); // anonymous: in no index
      const sid = await sidOf(browser);
      expect(await client.hget(sessionKey(sid), '$u')).toBeNull();

      await browser.post('/set', { user: 'ann' }); // a login without regenerate
      expect(await listed('ann')).toEqual([sid]);
      await browser.post('/set', { user: 'bob' });
      expect(await listed('bob')).toEqual([sid]);
      expect(await client.exists(indexKey('ann'))).toBe(0); // left at once, not only when listed

      await browser.post('/login', { user: 'ann' }); // regenerate: the old id is destroyed
      const renewed = await sidOf(browser);
      expect(renewed).not.toBe(sid);
      expect(await client.exists(indexKey('bob'))).toBe(0);
      expect(await listed('ann')).toEqual([renewed]);

      await browser.post('/set', { user: null }); // no one's any more
      expect(await client.exists(indexKey('ann'))).toBe(0);
      expect(await client.hmget(sessionKey(renewed), '$u', '$d', '$n')).toEqual([null, null, null]);
      await browser.post('/set', { user: 'ann' });
      expect(await listed('ann')).toEqual([renewed]);

      await browser.post('/logout');
      expect(await client.exists(indexKey('ann'))).toBe(0);
      expect(await listed('ann')).toEqual([]);
    });

    it('moves a session when the direct API changes its user (putSession, updateSession, deleteSessionKey)', async () => {
      const browser = app.client();
      await browser.post('/set', { cart: [] });
      const sid = await sidOf(browser);
      await store.putSession(sid, 'user', 'hal');
      expect(await listed('hal')).toEqual([sid]);
      expect((await store.sessionsOf('hal'))[0].info).toEqual({ agent: null, user: 'hal' }); // no request: req is undefined
      await store.updateSession(sid, 'user', () => 'ivy');
      expect(await client.exists(indexKey('hal'))).toBe(0);
      expect(await listed('ivy')).toEqual([sid]);
      await store.putSession(sid, 'cart', ['mug']); // not the user: stays where it is
      expect(await listed('ivy')).toEqual([sid]);
      await store.deleteSessionKey(sid, 'user');
      expect(await client.exists(indexKey('ivy'))).toBe(0);
      expect(await client.hget(sessionKey(sid), '$u')).toBeNull();
      expect((await browser.get('/session')).body.session).toMatchObject({ cart: ['mug'] });
    });

    it('destroys all or all other sessions of a user, each with reason "revoked"; they are no longer usable', async () => {
      const devices = [app.client(), app.client(), app.client(), app.client()];
      for (const device of devices) await device.post('/login', { user: 'cy' });
      const sids = await Promise.all(devices.map(sidOf));
      // One device ("log out that device"): only a session of this user, and only that one.
      expect(await store.destroySessionsOf('cy', { only: [sids[3], 'not-a-session'] })).toBe(1);
      expect((await devices[3].get('/session')).body.session.user).toBeUndefined();
      devices.pop();
      const messages: Dict[] = [];
      const subscriber = await target.subscriber((_channel, message) => messages.push(JSON.parse(message) as Dict));
      try {
        for (const sid of sids.slice(1, 3)) await subscriber.subscribe(sessionKey(sid));
        expect(await store.destroySessionsOf('cy', { except: sids[0] })).toBe(2);
        await waitFor(() => messages.length >= 2, { what: 'two destroy messages' });
        expect(messages).toEqual([
          { format: 1, event: 'destroy', version: expect.any(Number), reason: 'revoked' },
          { format: 1, event: 'destroy', version: expect.any(Number), reason: 'revoked' },
        ]);
      } finally {
        subscriber.close();
      }
      expect(await listed('cy')).toEqual([sids[0]]);
      expect((await devices[0].get('/session')).body.session.user).toBe('cy');
      for (const device of devices.slice(1)) expect((await device.get('/session')).body.session.user).toBeUndefined();

      expect(await store.destroySessionsOf('cy')).toBe(1);
      expect((await devices[0].get('/session')).body.session.user).toBeUndefined();
      expect(await client.exists(indexKey('cy'))).toBe(0);
    });

    it('a logout succeeds even when the index cannot be told; the member left behind is harmless', async () => {
      const browser = app.client();
      await browser.post('/login', { user: 'kim' });
      const sid = await sidOf(browser);
      // The index key holds something else (as another program could leave it): every index script fails.
      await client.del(indexKey('kim'));
      await client.set(indexKey('kim'), 'not an index', 'PX', 60_000);
      expect((await browser.post('/logout')).body).toEqual({ ok: true });
      expect(await client.exists(sessionKey(sid))).toBe(0);
      await expect(store.sessionsOf('kim')).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_REDIS' });
      await client.del(indexKey('kim'));
    });

    it('never destroys a session that belongs to someone else, even if an index lists it', async () => {
      const browser = app.client();
      await browser.post('/login', { user: 'eve' });
      const sid = await sidOf(browser);
      // A stale member (as a crash between two steps could leave): dee's index names eve's session.
      await client.zadd(indexKey('dee'), Date.now() + HOUR, sid);
      await client.pexpire(indexKey('dee'), HOUR);
      expect(await store.destroySessionsOf('dee')).toBe(0);
      expect((await browser.get('/session')).body.session.user).toBe('eve');
      expect(await store.sessionsOf('dee')).toEqual([]); // listing checked it, and pruned it
      expect(await client.exists(indexKey('dee'))).toBe(0);
      await store.destroySessionsOf('eve');
    });

    it('50 concurrent logins racing "log out all other devices": exactly the sessions that exist are listed, none revoked is usable', async () => {
      const user = 'zed';
      const me = app.client();
      await me.post('/login', { user });
      const mine = await sidOf(me);
      // A request of another device, in flight (it loaded its session) during the revocation.
      const held = app.client();
      await held.post('/login', { user });
      const heldSid = await sidOf(held);
      const late = held.post('/hold/revoked-in-flight', { after: { cart: ['late'] } });
      await app.gates.arrived('revoked-in-flight');

      const devices = Array.from({ length: 50 }, () => app.client());
      const revocations: Promise<number>[] = [];
      const logins = devices.map(async (device, i) => {
        const { status } = await device.post('/login', { user });
        expect(status).toBe(200);
        // "Log out all other devices", several times while the other logins are in flight.
        if (i % 10 === 5) revocations.push(store.destroySessionsOf(user, { except: mine }));
      });
      await Promise.all(logins);
      revocations.push(store.destroySessionsOf(user, { except: mine }));
      const revoked = (await Promise.all(revocations)).reduce((a, b) => a + b, 0);

      // The held request ends after its session was revoked: its save must not bring it back.
      app.gates.open('revoked-in-flight');
      expect((await late).status).toBe(200);
      expect(await client.exists(sessionKey(heldSid))).toBe(0);

      const list = await listed(user);
      expect(list).toEqual(await owned(user)); // exactly the sessions that really exist
      expect(list).toContain(mine);
      expect(list).not.toContain(heldSid);
      // 52 sessions were logged in; each one not listed was revoked, and counted once.
      expect(revoked).toBe(52 - list.length);
      for (const device of [held, ...devices]) {
        const { body } = await device.get('/session');
        if (list.includes(body.id)) expect(body.session.user).toBe(user);
        else expect(body.session.user).toBeUndefined(); // revoked: the cookie names no session
      }
      // Nothing without a TTL was left behind.
      for (const [key, ttl] of await keysWithTtl(target.client)) expect([key, ttl > 0]).toEqual([key, true]);
      await store.destroySessionsOf(user);
      expect(await client.exists(indexKey(user))).toBe(0);
    }, 120_000);

    it('leaves nothing behind when 1,000 sessions of 100 users expire, without anyone listing', async () => {
      await store.clear();
      const before = await dbsize(target.client);
      const maxAge = 12_000; // long enough for 1,000 logins on a busy machine
      const sids = Array.from({ length: 1000 }, (_, i) => `leak-${process.pid}-${i}`);
      await inBatches(sids, 50, (sid) => store.set(sid, { cookie: cookieJson(maxAge), user: `leaker-${Number(sid.split('-').pop()) % 100}` } as never));
      expect(await dbsize(target.client)).toBe(before + 1100);

      // Reads move half of them past the point where the index must be told (a quarter of their
      // lifetime): each read session's index deadline and the index TTL follow.
      await waitFor(async () => (await client.pttl(sessionKey(sids[999]))) < maxAge * 0.6, { what: 'a quarter of the lifetime to pass', timeout: 20_000 });
      const deadlinesBefore = await Promise.all(sids.slice(0, 500).map((sid) => client.hget(sessionKey(sid), '$d')));
      await inBatches(sids.slice(0, 500), 50, (sid) => store.get(sid));
      await waitFor(
        async () => {
          const now = await Promise.all(sids.slice(0, 500).map((sid) => client.hget(sessionKey(sid), '$d')));
          return now.every((d, i) => d === null || Number(d) > Number(deadlinesBefore[i]));
        },
        { what: 'the read sessions\' index deadlines to move', timeout: 20_000 },
      );
      for (let u = 0; u < 100; u += 9) {
        const members = await client.zrange(indexKey(`leaker-${u}`), '0', '-1');
        const indexTtl = await client.pttl(indexKey(`leaker-${u}`));
        for (const sid of members) expect(indexTtl).toBeGreaterThanOrEqual(await client.pttl(sessionKey(sid)));
      }
      for (const [key, ttl] of await keysWithTtl(target.client)) expect([key, ttl > 0]).toEqual([key, true]);

      await waitFor(async () => (await dbsize(target.client)) === before, { what: 'every session and index to expire', timeout: 60_000, interval: 200 });
    }, 120_000);

    it('caps the expiry of a session at the deadline its index holds, and asks once for a refresh', async () => {
      await store.set('capped', { cookie: cookieJson(HOUR), user: 'fay' } as never);
      const deadline = Date.now() + 5_000;
      await client.hset(sessionKey('capped'), '$d', String(deadline));
      // The get script alone (as a read whose index refresh never happens): capped, and 'due' once.
      const get = (key: string) => (target.client as unknown as { liveSessionGet(k: string, f: string, s: string): Promise<unknown[]> }).liveSessionGet(key, 'document', '?');
      const first = await get(sessionKey('capped'));
      expect(first.slice(2, 4)).toEqual(['due', 'fay']);
      expect(await client.pttl(sessionKey('capped'))).toBeLessThanOrEqual(5_000);
      const second = await get(sessionKey('capped'));
      expect(second).toHaveLength(2); // claimed: no second request
      // Through the store, the refresh happens and the session gets its lifetime back.
      await client.hdel(sessionKey('capped'), '$i');
      await store.get('capped');
      await waitFor(async () => (await client.pttl(sessionKey('capped'))) > HOUR - 60_000, { what: 'the lifetime to come back' });
      expect(Number(await client.zscore(indexKey('fay'), 'capped'))).toBeGreaterThan(Date.now() + HOUR);
      // A socket's activity (touchSession) moves the expiry as a read does: capped, and refreshed too.
      await client.hset(sessionKey('capped'), '$d', String(Date.now() + 5_000));
      expect((await store.touchSession('capped'))!.expiresAt).toBeLessThanOrEqual(Date.now() + 5_000);
      await waitFor(async () => (await client.pttl(sessionKey('capped'))) > HOUR - 60_000, { what: 'the lifetime to come back after a touch' });
      await store.destroySessionsOf('fay');
    });

    it('rejects bad input with a LiveSessionError and writes nothing', async () => {
      const bad = new LiveSessionStore({ client: target.client, prefix: PREFIX, indexPrefix: INDEX_PREFIX, userOf: () => 42 as unknown as string });
      await expect(bad.set('bad-user', { cookie: cookieJson(HOUR) } as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
      const unserializable = new LiveSessionStore({ client: target.client, prefix: PREFIX, indexPrefix: INDEX_PREFIX, userOf, describe: () => 10n });
      await expect(unserializable.set('bad-info', { cookie: cookieJson(HOUR), user: 'gus' } as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_UNSERIALIZABLE' });
      expect(await client.exists(sessionKey('bad-user'))).toBe(0);
      expect(await client.exists(sessionKey('bad-info'))).toBe(0);
      expect(await client.exists(indexKey('gus'))).toBe(0);

      await expect(store.sessionsOf('')).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
      await expect(store.destroySessionsOf('x', { except: 7 as unknown as string })).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_BAD_ID' });
      const plain = new LiveSessionStore({ client: target.client, prefix: PREFIX });
      await expect(plain.sessionsOf('ada')).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
      expect(() => new LiveSessionStore({ client: target.client, prefix: PREFIX, indexPrefix: `${PREFIX}users:`, userOf })).toThrow(/indexPrefix/);
    });
  });
}
