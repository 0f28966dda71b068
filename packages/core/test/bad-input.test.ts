/** Bad input gives a clear error, loses nothing and never crashes the app: through either client. */
import { CLIENT_KINDS, createTestClient, startRedis, type TestClient, type TestRedis, waitFor } from '@live-session/test-support';
import type { Redis } from 'ioredis';
import { createClient, createCluster, createSentinel } from 'redis';
import { LiveSessionError, LiveSessionStore } from '../src';
import { cookieJson, hashOf, rejectionOf, Resources, startApp, subscribe, type TestApp } from './helpers';

let PREFIX = 'bad_input:';
const HOUR = 60 * 60 * 1000;

let redis: TestRedis;
const resources = new Resources();
let admin: Redis;
let client: TestClient;
let store: LiveSessionStore;
let app: TestApp;

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  admin = resources.redis(redis);
});
afterAll(() => resources.closeAll());

const keyOf = (sid: string) => PREFIX + sid;
let counter = 0;
const newSid = () => `bad-${++counter}`;
type Dict = Record<string, unknown>;

async function createSession(sid: string, data: Dict = {}) {
  await store.set(sid, { cookie: cookieJson(HOUR), ...data } as never);
}

describe.each(CLIENT_KINDS)('through %s', (kind) => {
  beforeAll(async () => {
    PREFIX = `bad_input:${kind}:`; // each client's sessions apart: some tests count them
    client = resources.add(await createTestClient(kind, { url: redis.url }), (c) => c.close());
    store = new LiveSessionStore({ client: client.client, prefix: PREFIX });
    app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
  });

  describe('session ids', () => {
    const badIds: [string, unknown][] = [
      ['empty', ''],
      ['a number', 42],
      ['null', null],
      ['undefined', undefined],
      ['an object', { toString: () => 'sid' }],
      ['too long (513 characters)', 'x'.repeat(513)],
    ];
    const calls: [string, (sid: never) => Promise<unknown>][] = [
      ['get', (sid) => store.get(sid)],
      ['set', (sid) => store.set(sid, { cookie: cookieJson(HOUR) } as never)],
      ['touch', (sid) => store.touch(sid, { cookie: cookieJson(HOUR) } as never)],
      ['destroy', (sid) => store.destroy(sid)],
      ['getSession', (sid) => store.getSession(sid)],
      ['getSessionState', (sid) => store.getSessionState(sid)],
      ['putSession', (sid) => store.putSession(sid, 'a', 1)],
      ['updateSession', (sid) => store.updateSession(sid, 'a', () => 1)],
      ['deleteSessionKey', (sid) => store.deleteSessionKey(sid, 'a')],
    ];

    it.each(badIds)('rejects a session id that is %s with ERR_LIVE_SESSION_BAD_ID, from every method', async (_what, sid) => {
      for (const [method, call] of calls) {
        const error = await rejectionOf(call(sid as never));
        expect({ method, error: error instanceof LiveSessionError, code: error.code }).toEqual({ method, error: true, code: 'ERR_LIVE_SESSION_BAD_ID' });
      }
      expect(await store.length()).toBe(0);
    });

    it('passes the error to a callback', async () => {
      const error = await new Promise<Error & { code?: string }>((resolve) => store.get('', (err) => resolve(err)));
      expect(error.code).toBe('ERR_LIVE_SESSION_BAD_ID');
    });

    it('accepts a 512-character id', async () => {
      const sid = 's'.repeat(512);
      await createSession(sid, { n: 1 });
      expect(((await store.get(sid)) as unknown as Dict).n).toBe(1);
      await store.destroy(sid);
    });

    it('rejects a key that is not a string, or the cookie, in the direct API', async () => {
      const sid = newSid();
      await createSession(sid, { n: 1 });
      const before = await hashOf(admin, keyOf(sid));
      for (const key of [42, null, 'cookie']) {
        await expect(store.putSession(sid, key as never, 1)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
        await expect(store.deleteSessionKey(sid, key as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
        await expect(store.updateSession(sid, key as never, () => 1)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
      }
      expect(await hashOf(admin, keyOf(sid))).toEqual(before);
    });
  });

  describe('a field that is not valid JSON, written by someone else', () => {
    // `all` fails on a corrupt session too: leave none behind for the other tests.
    afterEach(() => store.clear());

    it.each([
      ['user', '{"name": "ada"'],
      ['cookie', 'not json'],
      ['cookie', '42'],
      // Not one JSON value, though it would fit in the JSON document get.lua builds around it.
      ['user', '1,"cart"'],
      ['user', '{"a":1},"injected",{"b":2}'],
      ['user', ''],
      // A field in the form of a key with a lone surrogate, but not valid JSON.
      ['$"\\ud800', '1'],
    ])('makes get fail with ERR_LIVE_SESSION_CORRUPT naming the field (%s = %s), and leaves it there', async (field, garbage) => {
      const sid = newSid();
      await createSession(sid, { user: { name: 'ada' }, cart: [1] });
      await admin.hset(keyOf(sid), field, garbage);
      for (const read of [() => store.get(sid), () => store.getSession(sid), () => store.updateSession(sid, 'cart', () => [])]) {
        const error = await rejectionOf(read());
        expect(error).toBeInstanceOf(LiveSessionError);
        expect(error.code).toBe('ERR_LIVE_SESSION_CORRUPT');
        expect(error.message).toContain(`"${field}"`);
      }
      const hash = await hashOf(admin, keyOf(sid));
      expect(hash[field]).toBe(garbage);
      expect(hash.cart).toBe('[1]');
    });

    it('makes the app answer 500, keeps serving other requests, and keeps the data', async () => {
      const browser = app.client();
      const { body } = await browser.post('/set', { user: 'ada', cart: [1, 2] });
      await admin.hset(keyOf(body.id), 'user', '{broken');

      const failed = await browser.get('/session');
      expect(failed.status).toBe(500);
      expect(failed.body).toEqual({ error: 'ERR_LIVE_SESSION_CORRUPT' });
      expect(app.errors.splice(0).map((e) => (e as Error & { code?: string }).code)).toEqual(['ERR_LIVE_SESSION_CORRUPT']);
      expect((await browser.post('/set', { cart: [] })).status).toBe(500);
      app.errors.splice(0);

      expect((await app.client().post('/count')).body.session.count).toBe(1);
      const hash = await hashOf(admin, keyOf(body.id));
      expect(hash.user).toBe('{broken');
      expect(hash.cart).toBe('[1,2]');
    });
  });

  describe('keys that look special', () => {
    const special = () => JSON.parse('{"__proto__":{"polluted":true},"constructor":{"name":"data"},"prototype":1,"hasOwnProperty":2,"$v":"app","$$x":"app2","$":"dollar","$c":"app3"}') as Dict;

    it('round-trip as data, never touching prototypes or metadata', async () => {
      const sid = newSid();
      const input = special();
      await store.set(sid, { cookie: cookieJson(null), ...copyOwn(input) } as never);

      const hash = await hashOf(admin, keyOf(sid));
      expect(Object.keys(hash).sort()).toEqual(['$$', '$$$x', '$$c', '$$v', '$c', '$t', '$v', '__proto__', 'constructor', 'cookie', 'hasOwnProperty', 'prototype'].sort());
      expect(hash.$v).toBe('1'); // the version: one change so far
      expect(Number(hash.$c)).toBeGreaterThan(Date.now() - HOUR);

      const got = (await store.get(sid)) as unknown as Dict;
      expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(got, '__proto__')?.value).toEqual({ polluted: true });
      expect(JSON.stringify({ ...copyOwn(got), cookie: undefined })).toBe(JSON.stringify(input));
      expect(({} as Dict).polluted).toBeUndefined();
      expect((got as { polluted?: unknown }).polluted).toBeUndefined();

      const state = await store.getSessionState(sid);
      expect(state?.version).toBe(1);
      expect((state?.session as unknown as Dict).$v).toBe('app');
    });

    it('work through the direct API as plain keys', async () => {
      const sid = newSid();
      await createSession(sid);
      await store.putSession(sid, '__proto__', { polluted: true });
      await store.putSession(sid, 'constructor', 'c');
      const seen: unknown[] = [];
      await store.updateSession(sid, '$v', (current) => {
        seen.push(current);
        return 'app';
      });
      await store.putSession(sid, '$', 1);
      const session = (await store.getSession(sid)) as unknown as Dict;
      expect(seen).toEqual([undefined]); // the application key, not the version
      expect(Object.getOwnPropertyDescriptor(session, '__proto__')?.value).toEqual({ polluted: true });
      expect(Object.getPrototypeOf(session)).toBe(Object.prototype);
      expect(session.constructor).toBe('c');
      expect(session.$v).toBe('app');
      expect(session.$).toBe(1);
      expect(({} as Dict).polluted).toBeUndefined();

      await store.deleteSessionKey(sid, '$v');
      const hash = await hashOf(admin, keyOf(sid));
      expect(hash.$$v).toBeUndefined();
      expect(hash.$v).toBe('5'); // five changes (creating it with a cookie only published nothing)
    });

    it('lists a session whose id is "__proto__" as data', async () => {
      const sid = '__proto__';
      await createSession(sid, { n: 1 });
      const all = await store.all();
      expect(Object.getPrototypeOf(all)).toBe(Object.prototype);
      expect((Object.getOwnPropertyDescriptor(all, '__proto__')?.value as Dict).n).toBe(1);
      expect(await store.ids()).toContain('__proto__');
      await store.destroy(sid);
    });
  });

  describe('values JSON cannot represent', () => {
    const cycle = () => {
      const node: Dict = { name: 'loop' };
      node.self = node;
      return node;
    };
    const unserializable: [string, () => unknown][] = [
      ['a BigInt', () => 10n],
      ['a cycle', cycle],
      ['a nested BigInt', () => ({ deep: [{ n: 1n }] })],
      ['a throwing toJSON', () => ({ toJSON: () => { throw new Error('nope'); } })],
    ];

    it.each(unserializable)('%s: set, putSession, updateSession fail with ERR_LIVE_SESSION_UNSERIALIZABLE and write nothing', async (_what, value) => {
      const sid = newSid();
      await createSession(sid, { user: 'ada', cart: [1] });
      const before = await hashOf(admin, keyOf(sid));

      const errors = [
        await rejectionOf(store.set(sid, { cookie: cookieJson(HOUR), user: 'grace', bad: value(), cart: [] } as never)),
        await rejectionOf(store.putSession(sid, 'bad', value())),
        await rejectionOf(store.updateSession(sid, 'cart', () => value())),
      ];
      for (const error of errors) {
        expect(error).toBeInstanceOf(LiveSessionError);
        expect(error.code).toBe('ERR_LIVE_SESSION_UNSERIALIZABLE');
      }
      expect(errors[0].message).toContain('"bad"');
      expect(errors[2].message).toContain('"cart"');
      expect(await hashOf(admin, keyOf(sid))).toEqual(before);

      // A new session is not created either.
      const fresh = newSid();
      await expect(store.set(fresh, { cookie: cookieJson(HOUR), bad: value() } as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_UNSERIALIZABLE' });
      expect(await admin.exists(keyOf(fresh))).toBe(0);
    });

    it('a cookie JSON cannot represent: set and touch fail with ERR_LIVE_SESSION_UNSERIALIZABLE and write nothing', async () => {
      const sid = newSid();
      await createSession(sid, { user: 'ada' });
      const before = await hashOf(admin, keyOf(sid));
      const badCookie = { ...cookieJson(HOUR), originalMaxAge: 10n };
      await expect(store.set(sid, { cookie: badCookie, user: 'x' } as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_UNSERIALIZABLE' });
      await expect(store.touch(sid, { cookie: badCookie, user: 'ada' } as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_UNSERIALIZABLE' });
      expect(await hashOf(admin, keyOf(sid))).toEqual(before);
    });
  });

  describe('cookies express-session could not load', () => {
    const badCookies: [string, () => unknown][] = [
      ['null', () => null],
      ['a string', () => 'cookie'],
      ['a number', () => 42],
      ['a boolean', () => true],
      ['an array', () => [cookieJson(HOUR)]],
      ['a function', () => () => cookieJson(HOUR)],
      ['an object whose toJSON gives a string', () => ({ toJSON: () => 'cookie' })],
      ['an object whose expires is not a date', () => ({ ...cookieJson(HOUR), expires: 'next tuesday' })],
      ['an object whose expires is a number', () => ({ ...cookieJson(HOUR), expires: Date.now() + HOUR })],
      ['an object whose originalMaxAge is a string', () => ({ ...cookieJson(HOUR), originalMaxAge: '1h' })],
      ['an object whose maxAge is a string', () => ({ ...cookieJson(HOUR), maxAge: '1h' })],
    ];

    it.each(badCookies)('%s: set and touch fail with ERR_LIVE_SESSION_INVALID_ARGUMENT and write nothing', async (_what, cookie) => {
      const sid = newSid();
      await createSession(sid, { user: 'ada' });
      const before = await hashOf(admin, keyOf(sid));
      for (const call of [() => store.set(sid, { cookie: cookie(), user: 'grace' } as never), () => store.touch(sid, { cookie: cookie(), user: 'ada' } as never)]) {
        const error = await rejectionOf(call());
        expect(error).toBeInstanceOf(LiveSessionError);
        expect(error.code).toBe('ERR_LIVE_SESSION_INVALID_ARGUMENT');
        expect(error.message).toContain('cookie');
      }
      expect(await hashOf(admin, keyOf(sid))).toEqual(before);
      const fresh = newSid();
      await expect(store.set(fresh, { cookie: cookie(), n: 1 } as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
      expect(await admin.exists(keyOf(fresh))).toBe(0);
    });

    it('refuses a session that is not an object', async () => {
      for (const data of [null, 'session', 42, [1]]) {
        const sid = newSid();
        await expect(store.set(sid, data as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
        await expect(store.touch(sid, data as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_INVALID_ARGUMENT' });
        expect(await admin.exists(keyOf(sid))).toBe(0);
      }
    });

    it('a session without a cookie is stored as it is, and a request loads it with a default cookie', async () => {
      const browser = app.client();
      const { body } = await browser.post('/set', { user: 'ada' });
      const sid = body.id as string;
      // The direct API replaces it with a session that has no cookie: stored, read back as it is ...
      await store.set(sid, { user: 'grace' } as never);
      expect(await store.getSession(sid)).toEqual({ user: 'grace' });
      // ... and express-session, which needs a cookie to load a session, gets its default one.
      const read = await browser.get('/session');
      expect(read.status).toBe(200);
      expect(read.body.session).toMatchObject({ user: 'grace', cookie: { path: '/', httpOnly: true } });
      // touch without a cookie keeps it readable too (it used to store a cookie no one could read).
      await store.touch(sid, { user: 'grace' } as never);
      expect(await store.getSession(sid)).toEqual({ user: 'grace' });
      expect((await browser.get('/session')).status).toBe(200);
    });
  });

  describe('a cookie an earlier version stored, which express-session cannot load', () => {
    it.each(['{"*":null}', '{"*":"cookie"}', '{"*":42}', '{"*":[1]}'])('%s: the session reads without a cookie, and a request heals it', async (stored) => {
      const browser = app.client();
      const { body } = await browser.post('/set', { user: 'ada' });
      const sid = body.id as string;
      await admin.hset(keyOf(sid), 'cookie', stored);
      expect(await store.getSession(sid)).toEqual({ user: 'ada' });
      const read = await browser.post('/set', { seen: true });
      expect(read.status).toBe(200);
      expect(read.body.session).toMatchObject({ user: 'ada', seen: true, cookie: { path: '/' } });
      expect((await hashOf(admin, keyOf(sid))).cookie).not.toBe(stored);
      expect(((await store.getSession(sid)) as unknown as Dict).cookie).toMatchObject({ path: '/', httpOnly: true });
    });
  });

  describe('exact round trips (what JSON.parse(JSON.stringify(session)) gives)', () => {
    it('keeps top-level keys that are lone surrogates apart, through set, the direct API and the messages', async () => {
      const sid = newSid();
      const messages = (await subscribe(resources, redis, keyOf(sid))).messages;
      const data = copyOwn({ '\ud800': 1, '\udc00': 2, '\ufffd': 3, '$\ud800': 4, 'a\ud83d': 5, '😀': 6 });
      await store.set(sid, { cookie: cookieJson(HOUR), ...data } as never);
      expect(omitCookie(await store.get(sid))).toEqual(data);
      await store.putSession(sid, '\udc00', 'two');
      await store.updateSession<number>(sid, '\ud800', (n = 0) => n + 10);
      await store.deleteSessionKey(sid, 'a\ud83d');
      const expected = copyOwn({ '\ud800': 11, '\udc00': 'two', '\ufffd': 3, '$\ud800': 4, '😀': 6 });
      expect(omitCookie(await store.getSession(sid))).toEqual(expected);
      expect(omitCookie((await store.getSessionStates([sid])).get(sid)?.session)).toEqual(expected);
      expect(omitCookie((await store.all())[sid])).toEqual(expected);
      await waitFor(() => messages.length >= 4, { what: 'four change messages' });
      expect(JSON.parse(messages[0])).toEqual({ format: 1, event: 'change', version: 1, set: data, unset: [] });
      expect(messages.slice(1).map((m) => JSON.parse(m))).toEqual([
        { format: 1, event: 'change', version: 2, set: { '\udc00': 'two' }, unset: [] },
        { format: 1, event: 'change', version: 3, set: { '\ud800': 11 }, unset: [] },
        { format: 1, event: 'change', version: 4, set: {}, unset: ['a\ud83d'] },
      ]);
    });

    it('refuses a session id with a lone surrogate (Redis would merge it with another)', async () => {
      await expect(store.set('\ud800', { cookie: cookieJson(HOUR) } as never)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_BAD_ID' });
      await expect(store.get('x\udc00')).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_BAD_ID' });
    });

    it("keeps a cookie's own __proto__ key", async () => {
      const sid = newSid();
      const cookie = JSON.parse('{"originalMaxAge":null,"expires":null,"__proto__":{"x":1},"path":"/"}') as Dict;
      await store.set(sid, { cookie, n: 1 } as never);
      const got = (await store.get(sid)) as unknown as Dict;
      const gotCookie = got.cookie as Dict;
      expect(Object.getOwnPropertyDescriptor(gotCookie, '__proto__')?.value).toEqual({ x: 1 });
      expect(Object.getPrototypeOf(gotCookie)).toBe(Object.prototype);
      expect(JSON.stringify(gotCookie)).toBe(JSON.stringify(JSON.parse(JSON.stringify(cookie))));
    });

    it('calls toJSON with its key, as JSON.stringify(session) does', async () => {
      const sid = newSid();
      const keyed = () => ({ toJSON: (key: string) => `stored as ${key}` });
      const session = { cookie: { ...cookieJson(null), extra: keyed() }, a: keyed(), __proto__x: keyed(), nested: { b: keyed() }, gone: { toJSON: () => undefined } };
      await store.set(sid, session as never);
      await store.putSession(sid, 'c', keyed());
      const expected = JSON.parse(JSON.stringify({ ...session, c: keyed() })) as Dict;
      expect(await store.getSession(sid)).toEqual(expected);
      expect(expected.a).toBe('stored as a');
      expect((expected.cookie as Dict).extra).toBe('stored as extra');
    });
  });

  describe('the maxBytes limit', () => {
    let limited: LiveSessionStore;
    beforeAll(() => {
      limited = new LiveSessionStore({ client: client.client, prefix: PREFIX, maxBytes: 300 });
    });

    it('rejects an oversized new session with ERR_LIVE_SESSION_TOO_LARGE and creates nothing', async () => {
      const sid = newSid();
      const error = await rejectionOf(limited.set(sid, { cookie: cookieJson(HOUR), blob: 'x'.repeat(400) } as never));
      expect(error).toBeInstanceOf(LiveSessionError);
      expect(error.code).toBe('ERR_LIVE_SESSION_TOO_LARGE');
      expect(error.message).toContain('300');
      expect(await admin.exists(keyOf(sid))).toBe(0);
    });

    it('rejects a change that would make a session too large, writes nothing, and accepts changes within the limit', async () => {
      const sid = newSid();
      await limited.set(sid, { cookie: cookieJson(HOUR), blob: 'x'.repeat(100) } as never);
      const before = await hashOf(admin, keyOf(sid));

      await expect(limited.putSession(sid, 'more', 'y'.repeat(200))).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_TOO_LARGE' });
      await expect(limited.updateSession(sid, 'blob', () => 'z'.repeat(300))).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_TOO_LARGE' });
      await expect(limited.set(sid, { cookie: cookieJson(HOUR), blob: 'x'.repeat(100), more: 'y'.repeat(200) } as never)).rejects.toMatchObject({
        code: 'ERR_LIVE_SESSION_TOO_LARGE',
      });
      expect(await hashOf(admin, keyOf(sid))).toEqual(before);

      // Replacing the big value with a smaller one, and then adding a small key, fit.
      await limited.putSession(sid, 'blob', 'x'.repeat(10));
      await limited.putSession(sid, 'more', 'y'.repeat(100));
      expect(await limited.getSession(sid)).toMatchObject({ blob: 'x'.repeat(10), more: 'y'.repeat(100) });
    });

    it('over HTTP: an oversized save reaches the error handler, writes nothing, and the app goes on', async () => {
      const limitedApp = await startApp(resources, limited, { cookie: { maxAge: HOUR } });
      const browser = limitedApp.client();
      const { body } = await browser.post('/set', { user: 'ada' });
      const before = await hashOf(admin, keyOf(body.id));

      const oversized = await browser.post('/set', { blob: 'x'.repeat(400) });
      // express-session saves after the route answered: the client already has its 200 ...
      expect(oversized.status).toBe(200);
      // ... and the error goes to the app's error handler.
      await waitFor(() => limitedApp.errors.length > 0, { what: 'the save error at the error handler' });
      expect(limitedApp.errors.map((e) => (e as Error & { code?: string }).code)).toEqual(['ERR_LIVE_SESSION_TOO_LARGE']);
      expect(await hashOf(admin, keyOf(body.id))).toEqual(before);
      expect((await browser.get('/session')).body.session).not.toHaveProperty('blob');
    });
  });

  describe('constructor options', () => {
    it('needs an ioredis or a node-redis client, and says which versions', () => {
      expect(() => new LiveSessionStore(undefined as never)).toThrow(TypeError);
      for (const client of [undefined, null, 'redis://localhost', { get: () => undefined }]) {
        expect(() => new LiveSessionStore({ client } as never)).toThrow(TypeError);
        expect(() => new LiveSessionStore({ client } as never)).toThrow(/ioredis \(>= 5\.4\) Redis or Cluster, or a node-redis \(redis >= 5\) client/);
      }
      // node-redis's Sentinel client: not taken (its pub/sub connection's reconnects cannot be followed).
      const sentinel = createSentinel({ name: 'unused', sentinelRootNodes: [{ host: '127.0.0.1', port: 1 }] });
      expect(() => new LiveSessionStore({ client: sentinel as never })).toThrow(/node-redis Sentinel client .* pass an ioredis client/);
    });

    it.each([
      ['lifetime', 0],
      ['lifetime', -1],
      ['lifetime', 1.5],
      ['lifetime', '1000'],
      ['lifetime', Infinity],
      ['timeout', 0],
      ['timeout', NaN],
      ['scanCount', 0],
      ['updateAttempts', 0],
      ['touchGrace', -1],
      ['maxBytes', -1],
      ['maxBytes', 1.5],
      ['maxMessageBytes', -1],
      ['maxMessageBytes', '64k'],
      ['prefix', 42],
      ['prefix', null],
      ['publish', 'broadcast'],
    ])('rejects %s = %p', (name, value) => {
      expect(() => new LiveSessionStore({ client: client.client, [name]: value } as never)).toThrow(new RegExp(`"${name}"`));
    });

    it('takes the documented defaults', () => {
      const defaults = new LiveSessionStore({ client: client.client });
      expect(defaults.options).toMatchObject({
        prefix: 'live_session:',
        lifetime: 2 * 24 * HOUR,
        maxBytes: 0,
        maxMessageBytes: 65536,
        timeout: 2000,
        publish: 'publish',
        scanCount: 100,
        touchGrace: 1000,
        updateAttempts: 100,
      });
      expect(defaults.keyOf('abc')).toBe('live_session:abc');
      // undefined means "the default", as if the option were left out
      expect(new LiveSessionStore({ client: client.client, prefix: undefined, lifetime: undefined }).options.prefix).toBe('live_session:');
    });
  });
});

describe('a node-redis client', () => {
  it('the app forgot to connect: calls fail with ERR_LIVE_SESSION_REDIS, never hang or list nothing', async () => {
    const unconnected = new LiveSessionStore({ client: createClient({ url: redis.url }), prefix: PREFIX });
    expect(await rejectionOf(unconnected.get('sid'))).toMatchObject({ code: 'ERR_LIVE_SESSION_REDIS' });
    const cluster = new LiveSessionStore({ client: createCluster({ rootNodes: [{ url: redis.url }] }), prefix: PREFIX });
    const error = await rejectionOf(cluster.length());
    expect(error).toMatchObject({ code: 'ERR_LIVE_SESSION_REDIS' });
    expect(error.message).toContain('await client.connect()');
  });
});

function omitCookie(session: unknown): Dict {
  const copy = copyOwn(session as Dict);
  delete copy.cookie;
  return copy;
}

/** The own enumerable properties, "__proto__" included, into an object with the usual prototype. */
function copyOwn(source: Dict): Dict {
  const copy: Dict = {};
  for (const key of Object.keys(source)) Object.defineProperty(copy, key, { value: source[key], enumerable: true, writable: true, configurable: true });
  return copy;
}
