/**
 * Every path of the store copes with a session that connect-redis stored (a JSON string): it is
 * migrated to a hash and the operation goes on; a string that is not a session is reported as
 * ERR_LIVE_SESSION_CORRUPT naming it, never a WRONGTYPE 500.
 */
import { startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import type session from 'express-session';
import type { Redis } from 'ioredis';
import { promisify } from 'node:util';
import { LiveSessionError, LiveSessionStore } from '../src';
import { VARIANTS } from './connect-redis-helpers';
import { cookieJson, hashOf, rejectionOf, Resources, startApp, type TestApp } from './helpers';

const PREFIX = 'paths:';
const HOUR = 60 * 60 * 1000;
const SLACK = 60 * 1000;

let redis: TestRedis;
const resources = new Resources();
let admin: Redis;
let store: LiveSessionStore;
let legacy: session.Store;
let app: TestApp;

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  admin = resources.redis(redis);
  store = new LiveSessionStore({ client: resources.redis(redis), prefix: PREFIX });
  legacy = await VARIANTS[0].store(resources, redis, { prefix: PREFIX });
  app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
});
afterEach(async () => {
  const keys = await admin.keys(`${PREFIX}*`);
  if (keys.length > 0) await admin.del(...keys);
});
afterAll(() => resources.closeAll());

type Dict = Record<string, unknown>;
const keyOf = (sid: string) => PREFIX + sid;
let counter = 0;
const newSid = () => `legacy-${++counter}`;

/** A session as connect-redis 8.1 stores it (SET key json EX ttl). */
async function legacySession(data: Dict = {}, cookie: Dict = cookieJson(HOUR)): Promise<string> {
  const sid = newSid();
  await promisify(legacy.set.bind(legacy))(sid, { cookie, ...data } as never);
  expect(await admin.type(keyOf(sid))).toBe('string');
  return sid;
}

const dataOf = (value: unknown) => value as Dict;

describe('each method on a connect-redis session', () => {
  it('get, with a callback or a promise, and getSession', async () => {
    const a = await legacySession({ n: 1 });
    const fromCallback = await new Promise<Dict>((resolve, reject) => store.get(a, (err, data) => (err ? reject(err) : resolve(dataOf(data)))));
    expect(fromCallback).toMatchObject({ n: 1, cookie: { originalMaxAge: HOUR } });
    expect(await admin.type(keyOf(a))).toBe('hash');
    const b = await legacySession({ n: 2 });
    expect(dataOf(await store.get(b))).toMatchObject({ n: 2 });
    const c = await legacySession({ n: 3 });
    expect(dataOf(await store.getSession(c))).toMatchObject({ n: 3 });
    for (const sid of [a, b, c]) expect(await admin.type(keyOf(sid))).toBe('hash');
  });

  it('set without what a request loaded replaces it; touch keeps its data', async () => {
    const replaced = await legacySession({ old: true });
    await store.set(replaced, { cookie: cookieJson(HOUR), fresh: 1 } as never);
    expect(dataOf(await store.getSession(replaced))).toEqual({ cookie: expect.any(Object), fresh: 1 });

    const touched = await legacySession({ kept: 'yes' });
    await store.touch(touched, { cookie: cookieJson(2 * HOUR) } as never);
    expect(await admin.type(keyOf(touched))).toBe('hash');
    expect(dataOf(await store.getSession(touched))).toMatchObject({ kept: 'yes', cookie: { originalMaxAge: 2 * HOUR } });
    expect(await admin.pttl(keyOf(touched))).toBeGreaterThan(2 * HOUR - SLACK);
  });

  it('a request whose session an old server rewrote meanwhile saves only its own change on top', async () => {
    const browser = app.client();
    const { body } = await browser.post('/set', { cart: ['mine'] });
    const sid = body.id as string;
    const held = browser.post('/hold/rewrite', { after: { seen: true } });
    await app.gates.arrived('rewrite');
    // A connect-redis server saves the whole session while the request is held.
    await promisify(legacy.set.bind(legacy))(sid, { cookie: cookieJson(HOUR), cart: ['mine'], wishlist: ['old server'] } as never);
    app.gates.open('rewrite');
    expect((await held).status).toBe(200);
    await waitFor(async () => (await admin.type(keyOf(sid))) === 'hash' && (await admin.hexists(keyOf(sid), 'seen')) === 1, { what: 'the save' });
    expect(dataOf(await store.getSession(sid))).toMatchObject({ cart: ['mine'], wishlist: ['old server'], seen: true });
    expect(app.errors).toEqual([]);
  });

  it('putSession, updateSession and deleteSessionKey', async () => {
    const sid = await legacySession({ cart: ['a'], flash: 'hi' });
    expect(await store.putSession(sid, 'user', 'ada')).toMatchObject({ user: 'ada', cart: ['a'] });
    const legacy2 = await legacySession({ cart: ['a'] });
    expect(await store.updateSession(legacy2, 'cart', (cart: string[] = []) => [...cart, 'b'])).toMatchObject({ cart: ['a', 'b'] });
    const legacy3 = await legacySession({ cart: ['a'], flash: 'hi' });
    const after = await store.deleteSessionKey(legacy3, 'flash');
    expect(after).not.toHaveProperty('flash');
    expect(after).toMatchObject({ cart: ['a'] });
    // Never brings one back: no session, no write.
    expect((await rejectionOf(store.putSession(newSid(), 'a', 1))).code).toBe('ERR_LIVE_SESSION_NOT_FOUND');
  });

  it('destroy deletes it and publishes the destroy', async () => {
    const sid = await legacySession({ n: 1 });
    const messages: string[] = [];
    const subscriber = resources.redis(redis);
    subscriber.on('message', (_channel: string, message: string) => messages.push(message));
    await subscriber.subscribe(keyOf(sid));
    await store.destroy(sid);
    expect(await admin.exists(keyOf(sid))).toBe(0);
    await waitFor(() => messages.some((m) => JSON.parse(m).event === 'destroy'), { what: 'the destroy message' });
  });

  it('getSessionStates: hashes, connect-redis strings and missing sessions in one call', async () => {
    const old = await legacySession({ n: 1 });
    const current = newSid();
    await store.set(current, { cookie: cookieJson(HOUR), n: 2 } as never);
    const states = await store.getSessionStates([old, current, 'missing']);
    expect(states.get(old)?.session).toMatchObject({ n: 1 });
    expect(states.get(current)?.session).toMatchObject({ n: 2 });
    expect(states.get('missing')).toBeNull();
  });

  it('all, ids, length and clear see connect-redis strings beside hashes', async () => {
    const old = await legacySession({ n: 1 });
    const current = newSid();
    await store.set(current, { cookie: cookieJson(HOUR), n: 2 } as never);
    await admin.sadd(`${PREFIX}an-index`, 'not a session'); // another type under the prefix: left alone
    expect((await store.ids()).sort()).toEqual([current, old].sort());
    expect(await store.length()).toBe(2);
    const all = await store.all();
    expect(Object.keys(all).sort()).toEqual([current, old].sort());
    expect(dataOf(all[old])).toMatchObject({ n: 1, cookie: { originalMaxAge: HOUR } });
    const another = await legacySession({ n: 3 });
    await store.clear();
    for (const sid of [old, current, another]) expect(await admin.exists(keyOf(sid))).toBe(0);
    expect(await admin.smembers(`${PREFIX}an-index`)).toEqual(['not a session']);
  });
});

describe('expiry', () => {
  it('keeps the remaining TTL, and a cookie without expiry lives `lifetime` after its next read', async () => {
    const sid = await legacySession({}, cookieJson(null));
    const ttl = await admin.pttl(keyOf(sid)); // connect-redis's own ttl: a day
    expect(Object.keys(await store.all())).toEqual([sid]); // migrates without refreshing
    expect(await admin.type(keyOf(sid))).toBe('hash');
    expect(await admin.pttl(keyOf(sid))).toBeLessThanOrEqual(ttl);
    expect(await admin.pttl(keyOf(sid))).toBeGreaterThan(ttl - SLACK);
    expect((await hashOf(admin, keyOf(sid))).$t).toBe(String(store.options.lifetime));
    await store.getSession(sid);
    expect(await admin.pttl(keyOf(sid))).toBeGreaterThan(store.options.lifetime - SLACK);
  });

  it("connect-redis's ttl option (seconds) is the lifetime of a session whose cookie has no expiry", async () => {
    const withTtl = new LiveSessionStore({ client: resources.redis(redis), prefix: PREFIX, ttl: 600 });
    const sid = await legacySession({ n: 1 }, cookieJson(null)); // connect-redis stored it for a day
    expect(dataOf(await withTtl.getSession(sid))).toMatchObject({ n: 1 });
    expect(await admin.pttl(keyOf(sid))).toBeLessThanOrEqual(600_000);
    expect(await admin.pttl(keyOf(sid))).toBeGreaterThan(600_000 - SLACK);
  });

  it('a connect-redis session without TTL (disableTTL) gets one: its cookie expiry, else the lifetime', async () => {
    const noTtl = await VARIANTS[0].store(resources, redis, { prefix: PREFIX, disableTTL: true });
    await promisify(noTtl.set.bind(noTtl))('no-ttl', { cookie: cookieJson(HOUR), n: 1 } as never);
    await promisify(noTtl.set.bind(noTtl))('no-ttl-browser', { cookie: cookieJson(null), n: 1 } as never);
    expect(await admin.pttl(keyOf('no-ttl'))).toBe(-1);
    await store.getSessionStates(['no-ttl', 'no-ttl-browser']);
    expect(await admin.pttl(keyOf('no-ttl'))).toBeGreaterThan(HOUR - SLACK);
    expect(await admin.pttl(keyOf('no-ttl-browser'))).toBeGreaterThan(store.options.lifetime - SLACK);

    // One without TTL whose cookie has expired since (connect-redis itself refuses to store an expired one) is gone.
    await admin.set(keyOf('no-ttl-expired'), JSON.stringify({ cookie: { ...cookieJson(HOUR), expires: new Date(Date.now() - 1000).toISOString() }, n: 1 }));
    expect(await store.getSession('no-ttl-expired')).toBeNull();
    expect(await admin.exists(keyOf('no-ttl-expired'))).toBe(0);
  });
});

describe('a string that is not a connect-redis session', () => {
  const cases: [string, (key: string) => Promise<unknown>, RegExp][] = [
    ['not JSON (a custom serializer)', (key) => admin.set(key, 'a:1;b:2', 'EX', 600), /not JSON.*custom serializer/],
    ['a JSON array', (key) => admin.set(key, '[1,2]', 'EX', 600), /JSON that is not an object/],
    ['an object without a cookie', (key) => admin.set(key, '{"user":"ada"}', 'EX', 600), /without a cookie object/],
  ];

  it.each(cases)('%s: ERR_LIVE_SESSION_CORRUPT naming the session from every read and patch, nothing changed', async (_what, write, message) => {
    const sid = newSid();
    await write(keyOf(sid));
    const before = await admin.get(keyOf(sid));
    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => store.get(sid)],
      ['getSessionState', () => store.getSessionState(sid)],
      ['getSessionStates', () => store.getSessionStates([sid])],
      ['touch', () => store.touch(sid, { cookie: cookieJson(HOUR) } as never)],
      ['putSession', () => store.putSession(sid, 'a', 1)],
      ['updateSession', () => store.updateSession(sid, 'a', () => 1)],
      ['all', () => store.all()],
    ];
    for (const [method, call] of calls) {
      const error = await rejectionOf(call());
      expect({ method, error: error instanceof LiveSessionError, code: error.code }).toEqual({ method, error: true, code: 'ERR_LIVE_SESSION_CORRUPT' });
      expect(error.message).toContain(`session "${sid}"`);
      expect(error.message).toMatch(message);
    }
    expect(await admin.get(keyOf(sid))).toBe(before);

    // Over HTTP: a 500 carrying the code, not WRONGTYPE.
    const browser = app.client();
    const { body } = await browser.post('/set', { n: 1 });
    await admin.set(keyOf(body.id as string), before!, 'EX', 600);
    const read = await browser.get('/session');
    expect(read).toEqual({ status: 500, body: { error: 'ERR_LIVE_SESSION_CORRUPT' } });

    // destroy deletes it; a save that replaces the whole session overwrites it.
    await store.destroy(sid);
    expect(await admin.exists(keyOf(sid))).toBe(0);
    await write(keyOf(sid));
    await store.set(sid, { cookie: cookieJson(HOUR), fresh: 1 } as never);
    expect(dataOf(await store.getSession(sid))).toMatchObject({ fresh: 1 });
  });

  it('a key of another type under the prefix: ERR_LIVE_SESSION_CORRUPT, left as it is', async () => {
    const sid = newSid();
    await admin.rpush(keyOf(sid), 'x');
    const error = await rejectionOf(store.get(sid));
    expect(error.code).toBe('ERR_LIVE_SESSION_CORRUPT');
    expect(error.message).toMatch(/holds a Redis list/);
    expect(await admin.lrange(keyOf(sid), 0, -1)).toEqual(['x']);
  });
});
