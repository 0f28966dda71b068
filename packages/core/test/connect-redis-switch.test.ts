/**
 * Switching from connect-redis: a user logged in by an app on the real connect-redis (8.1 on
 * ioredis, 10.0 on node-redis) keeps the session, over real HTTP with the same cookie, once the
 * app runs on LiveSessionStore with the same secret and prefix; nothing a connect-redis server
 * still running writes meanwhile is lost; and convertToConnectRedis is the way back.
 */
import { startRedis, type TestRedis } from '@live-session/test-support';
import type session from 'express-session';
import type { Redis } from 'ioredis';
import { RedisStore as RedisStore10 } from 'connect-redis-10';
import { createClient } from 'redis';
import { convertToConnectRedis, LiveSessionStore } from '../src';
import { testHooks } from '../src/legacy';
import { startConnectRedisApp, VARIANTS } from './connect-redis-helpers';
import { cookieJson, hashOf, Resources, startApp, subscribe } from './helpers';

const HOUR = 60 * 60 * 1000;
const SLACK = 60 * 1000; // a slow, shared machine: expiries are compared within a minute

let redis: TestRedis;
const resources = new Resources();
let admin: Redis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  admin = resources.redis(redis);
  client = resources.redis(redis);
});
afterAll(() => resources.closeAll());
afterEach(() => {
  testHooks.beforeSwap = undefined;
});

type Dict = Record<string, unknown>;
/** connect-redis's set returns a promise (its typings keep express-session's callback signature). */
const set = (store: session.Store, sid: string, data: Dict) => (store.set as unknown as (sid: string, data: Dict) => Promise<unknown>).call(store, sid, data);

describe.each(VARIANTS)('$name', (variant) => {
  const prefix = `${variant.name.split(' ')[1]}:sess:`;

  it('a user logged in through connect-redis keeps the session, its data, cookie and expiry after the switch', async () => {
    const old = await startConnectRedisApp(resources, await variant.store(resources, redis, { prefix }), { cookie: { maxAge: HOUR } });
    const browser = old.client();
    const login = await browser.post('/login', { user: 'ada' });
    expect(login.status).toBe(200);
    await browser.post('/set', { cart: [1, 2], $odd: 'a key starting with $' });
    const sid = login.body.id as string;
    const key = prefix + sid;
    expect(await admin.type(key)).toBe('string');
    const pttlBefore = await admin.pttl(key);
    expect(pttlBefore).toBeGreaterThan(HOUR - SLACK);
    await old.close();

    // The one-line change: the same express-session options, the store replaced.
    const store = new LiveSessionStore({ client, prefix });
    const app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
    const same = browser.forOrigin(app.url);
    const before = Date.now();
    const read = await same.get('/session');
    expect(read.status).toBe(200);
    expect(read.body.id).toBe(sid);
    expect(read.body.session).toMatchObject({ user: 'ada', cart: [1, 2], $odd: 'a key starting with $', cookie: { originalMaxAge: expect.any(Number), httpOnly: true, path: '/' } });
    expect(read.body.session.cookie.originalMaxAge).toBeGreaterThan(HOUR - SLACK);
    const expires = Date.parse(read.body.session.cookie.expires as string);
    expect(expires).toBeGreaterThan(before + HOUR - SLACK);
    expect(expires).toBeLessThanOrEqual(Date.now() + HOUR + 1000);

    // Now a hash, with its expiry and this store's metadata.
    expect(await admin.type(key)).toBe('hash');
    const hash = await hashOf(admin, key);
    expect(JSON.parse(hash.user)).toBe('ada');
    expect(JSON.parse(hash.cart)).toEqual([1, 2]);
    expect(JSON.parse(hash.$$odd)).toBe('a key starting with $');
    // how far a read moves the expiry: the cookie's originalMaxAge, which express-session re-derives from the clock
    expect(Number(hash.$t)).toBeGreaterThan(HOUR - SLACK);
    expect(Number(hash.$t)).toBeLessThanOrEqual(HOUR);
    expect(await admin.pttl(key)).toBeGreaterThan(HOUR - SLACK);

    // And it works as any session: writes, then a logout.
    expect((await same.post('/count')).body.session.count).toBe(1);
    expect(((await store.getSession(sid)) as unknown as Dict).count).toBe(1);
    expect((await same.post('/logout')).status).toBe(200);
    expect(await admin.exists(key)).toBe(0);
    expect(app.errors).toEqual([]);
  });

  it('a connect-redis write between the read and the swap is not lost: the migration starts over from it', async () => {
    const legacy = await variant.store(resources, redis, { prefix });
    const store = new LiveSessionStore({ client, prefix });
    const sid = 'racing';
    await set(legacy, sid, { cookie: cookieJson(HOUR), cart: ['a'] });
    let swaps = 0;
    testHooks.beforeSwap = async () => {
      // An old server still running saves the session just then (a real connect-redis SET).
      if (++swaps === 1) await set(legacy, sid, { cookie: cookieJson(HOUR), cart: ['a', 'b'], by: 'old server' });
    };
    const state = await store.getSessionState(sid);
    expect(swaps).toBe(2);
    expect(state?.session).toMatchObject({ cart: ['a', 'b'], by: 'old server' });
    expect(JSON.parse((await hashOf(admin, prefix + sid)).cart)).toEqual(['a', 'b']);
  });

  it('a session that an old server rewrites after the migration (a rolling deploy) is migrated again, with a higher version that subscribers hear', async () => {
    const legacy = await variant.store(resources, redis, { prefix });
    const store = new LiveSessionStore({ client, prefix });
    const sid = 'rolling';
    await set(legacy, sid, { cookie: cookieJson(HOUR), cart: ['a'] });
    const first = (await store.getSessionState(sid))!;
    const messages = await subscribe(resources, redis, prefix + sid);
    const written = await store.putSessionState(sid, 'note', 'new server');
    expect(written.version).toBe(first.version + 1);

    await set(legacy, sid, { cookie: cookieJson(HOUR), cart: ['a', 'old server'] }); // replaces the hash
    expect(await admin.type(prefix + sid)).toBe('string');
    const again = (await store.getSessionState(sid))!;
    expect(again.session).toMatchObject({ cart: ['a', 'old server'] });
    expect(again.session).not.toHaveProperty('note'); // connect-redis writes whole sessions
    expect(again.version).toBeGreaterThan(written.version + 1); // a gap: subscribers read it again
    await messages.waitFor(2);
    expect(messages.parsed()[1]).toEqual({ format: 1, event: 'change', version: again.version, set: { cart: ['a', 'old server'] }, unset: [] });
  });

  it('a session written more times than milliseconds passed between two migrations still comes back with a higher version', async () => {
    const legacy = await variant.store(resources, redis, { prefix });
    const store = new LiveSessionStore({ client, prefix });
    const sid = 'hot-rolling';
    await set(legacy, sid, { cookie: cookieJson(HOUR), n: 0 });
    await store.getSessionState(sid); // migrated
    // Many writes in little time (about 0.1 ms each here): the versions they publish run ahead of a
    // clock in milliseconds, which is what a move used to start from.
    await Promise.all(Array.from({ length: 2_000 }, (_, i) => store.putSessionState(sid, `k${i % 10}`, i)));
    const last = (await store.getSessionState(sid))!;

    await set(legacy, sid, { cookie: cookieJson(HOUR), n: 1 }); // an old server replaces the hash
    const again = (await store.getSessionState(sid))!;
    expect(again.session).toMatchObject({ n: 1 });
    // Subscribers that followed every write must see a gap (and read the session again), never an old version.
    expect(again.version).toBeGreaterThan(last.version + 1);
  });

  it('convertToConnectRedis turns the hashes back into connect-redis strings that the old app reads with the same cookie', async () => {
    const rollbackPrefix = `${prefix}back:`;
    const store = new LiveSessionStore({ client, prefix: rollbackPrefix });
    const app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
    const browser = app.client();
    const { body } = await browser.post('/login', { user: 'grace' });
    await browser.post('/set', { cart: ['x'], $odd: 1 });
    await app.close();
    const key = rollbackPrefix + (body.id as string);
    expect(await admin.type(key)).toBe('hash');

    expect(await convertToConnectRedis(client, { prefix: rollbackPrefix })).toEqual({ converted: 1, failed: [] });
    expect(await admin.type(key)).toBe('string');
    expect(await admin.pttl(key)).toBeGreaterThan(HOUR - SLACK);
    expect(await convertToConnectRedis(client, { prefix: rollbackPrefix })).toEqual({ converted: 0, failed: [] }); // idempotent

    const old = await startConnectRedisApp(resources, await variant.store(resources, redis, { prefix: rollbackPrefix }), { cookie: { maxAge: HOUR } });
    const read = await browser.forOrigin(old.url).get('/session');
    expect(read.body.id).toBe(body.id);
    expect(read.body.session).toMatchObject({ user: 'grace', cart: ['x'], $odd: 1, cookie: { httpOnly: true, path: '/' } });
    expect(read.body.session.cookie.originalMaxAge).toBeGreaterThan(HOUR - SLACK);
    expect(Date.parse(read.body.session.cookie.expires as string)).toBeGreaterThan(Date.now() + HOUR - SLACK);
  });
});

describe('convertToConnectRedis', () => {
  afterEach(() => {
    testHooks.beforeConvert = undefined;
  });

  it('a write between the read and the conversion is not lost: the session is read and converted again', async () => {
    const prefix = 'back-race:';
    const store = new LiveSessionStore({ client, prefix });
    await store.set('s', { cookie: cookieJson(HOUR), cart: ['a'] } as never);
    let converts = 0;
    testHooks.beforeConvert = async () => {
      if (++converts === 1) await store.putSession('s', 'cart', ['a', 'b']); // a live-session server still running
    };
    expect(await convertToConnectRedis(client, { prefix })).toEqual({ converted: 1, failed: [] });
    expect(converts).toBe(2);
    expect(JSON.parse((await admin.get(`${prefix}s`))!)).toMatchObject({ cart: ['a', 'b'] });
  });

  it('lists a session it cannot convert and leaves it as it is', async () => {
    const prefix = 'back-corrupt:';
    const store = new LiveSessionStore({ client, prefix });
    await store.set('good', { cookie: cookieJson(HOUR), n: 1 } as never);
    await store.set('bad', { cookie: cookieJson(HOUR), n: 1 } as never);
    await admin.hset(`${prefix}bad`, 'n', 'not json');
    const result = await convertToConnectRedis(client, { prefix });
    expect(result.converted).toBe(1);
    expect(result.failed.map(({ sid, error }) => [sid, error.code])).toEqual([['bad', 'ERR_LIVE_SESSION_CORRUPT']]);
    expect(await admin.type(`${prefix}bad`)).toBe('hash');
    expect(JSON.parse((await admin.get(`${prefix}good`))!)).toMatchObject({ n: 1, cookie: { originalMaxAge: HOUR } });
  });
});

describe('connect-redis 10 users keep their node-redis client', () => {
  it('the same node-redis client, handed to LiveSessionStore, serves and moves the sessions connect-redis 10 stored', async () => {
    const nodeClient = createClient({ url: redis.url });
    nodeClient.on('error', () => undefined);
    await nodeClient.connect();
    resources.add(nodeClient, (c) => c.destroy());
    const prefix = 'same-client:sess:';
    const old = await startConnectRedisApp(resources, new RedisStore10({ client: nodeClient, prefix }), { cookie: { maxAge: HOUR } });
    const browser = old.client();
    const sid = (await browser.post('/login', { user: 'grace' })).body.id as string;
    await browser.post('/set', { cart: ['tea'] });
    await old.close();
    expect(await admin.type(prefix + sid)).toBe('string');

    const app = await startApp(resources, new LiveSessionStore({ client: nodeClient, prefix }), { cookie: { maxAge: HOUR } });
    const same = browser.forOrigin(app.url);
    const read = await same.get('/session');
    expect(read.body).toMatchObject({ id: sid, session: { user: 'grace', cart: ['tea'] } });
    expect(await admin.type(prefix + sid)).toBe('hash');
    expect((await same.post('/count')).body.session.count).toBe(1);
  });
});
