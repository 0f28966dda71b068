/** No lost updates: concurrent requests, late saves after a logout, concurrent direct-API writers. */
import { startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import type { Redis } from 'ioredis';
import { LiveSessionStore } from '../src';
import { cookieJson, hashOf, Resources, startApp, type TestApp } from './helpers';

const PREFIX = 'concurrency:';
const HOUR = 60 * 60 * 1000;

let redis: TestRedis;
const resources = new Resources();
let admin: Redis;
let store: LiveSessionStore;
let app: TestApp;
let resaveApp: TestApp;

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  admin = resources.redis(redis);
  store = new LiveSessionStore({ client: resources.redis(redis), prefix: PREFIX });
  app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
  resaveApp = await startApp(resources, store, { cookie: { maxAge: HOUR }, resave: true });
});
afterAll(() => resources.closeAll());
afterEach(() => {
  expect(app.errors).toEqual([]);
  expect(resaveApp.errors).toEqual([]);
});

const keyOf = (sid: string) => PREFIX + sid;
let counter = 0;
const newSid = () => `direct-${++counter}`;

describe('concurrent requests of one session', () => {
  it('keeps every key when 200 concurrent requests each set their own', async () => {
    const browser = app.client();
    const { body } = await browser.post('/set', { user: 'ada' });
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => browser.post('/set', { [`k${i}`]: i })));
    expect(responses.map((r) => r.status)).toEqual(Array(200).fill(200));
    expect(responses.every((r) => r.body.id === body.id)).toBe(true);

    const hash = await hashOf(admin, keyOf(body.id));
    const missing = Array.from({ length: 200 }, (_, i) => `k${i}`).filter((key) => hash[key] !== String(Number(key.slice(1))));
    expect(missing).toEqual([]);
    expect(hash.user).toBe('"ada"');
    expect(hash.$v).toBe('201'); // one version per change: nothing was merged away
    expect(Object.keys((await browser.get('/session')).body.session).filter((k) => /^k\d+$/.test(k))).toHaveLength(200);
  });

  it('keeps a change made from outside while a request that changed another key was running', async () => {
    const browser = app.client();
    const { body } = await browser.post('/set', { user: 'ada', cart: [] });
    const held = browser.post('/hold/job', { after: { theme: 'dark' } });
    await app.gates.arrived('job');
    await store.putSession(body.id, 'cart', ['book']);
    app.gates.open('job');
    expect((await held).status).toBe(200);
    const session = (await browser.get('/session')).body.session;
    expect(session).toMatchObject({ user: 'ada', cart: ['book'], theme: 'dark' });
  });
});

describe('a request that loaded the session before a logout elsewhere (connect-redis #328)', () => {
  it.each([
    ['changes a key', app0 => app0, { after: { cart: ['late'] } }],
    ['changes only its cookie', app0 => app0, { maxAge: 2 * HOUR }],
    ['changes nothing, with resave: true', () => resaveApp, {}],
  ] as [string, (a: TestApp) => TestApp, Record<string, unknown>][])('does not bring the session back when it %s', async (_what, pick, hold) => {
    const target = pick(app);
    const browser = target.client();
    const { body } = await browser.post('/set', { user: 'ada' });
    const other = browser.forOrigin(target.url); // another tab of the same browser

    const gate = `late-${body.id}`;
    const late = browser.post(`/hold/${gate}`, hold);
    await target.gates.arrived(gate);
    expect((await other.post('/logout')).body).toEqual({ ok: true });
    expect(await admin.exists(keyOf(body.id))).toBe(0);

    target.gates.open(gate);
    expect((await late).status).toBe(200);
    expect(await admin.exists(keyOf(body.id))).toBe(0);
    expect(await store.get(body.id)).toBeNull();
  });
});

describe('the direct API', () => {
  async function createSession(sid: string, data: Record<string, unknown> = {}) {
    await store.set(sid, { cookie: cookieJson(HOUR), ...data } as never);
  }

  it('keeps both of two concurrent updateSession appends', async () => {
    const sid = newSid();
    await createSession(sid, { cart: [] });
    let calls = 0;
    const append = (item: string) =>
      store.updateSession<string[]>(sid, 'cart', async (cart = []) => {
        calls++;
        await Promise.resolve();
        return [...cart, item];
      });
    await Promise.all([append('apple'), append('pear')]);
    const cart = ((await store.getSession(sid)) as unknown as { cart: string[] }).cart;
    expect([...cart].sort()).toEqual(['apple', 'pear']);
    expect(calls).toBeGreaterThan(2); // they did collide, and one of them ran again
  });

  it('keeps all of 50 concurrent updateSession appends', async () => {
    const sid = newSid();
    await createSession(sid);
    const items = Array.from({ length: 50 }, (_, i) => i);
    const results = await Promise.all(items.map((i) => store.updateSession<number[]>(sid, 'cart', (cart = []) => [...cart, i])));
    const cart = ((await store.getSession(sid)) as unknown as { cart: number[] }).cart;
    expect([...cart].sort((a, b) => a - b)).toEqual(items);
    // Each call returned a session containing its own item.
    results.forEach((session, i) => expect((session as unknown as { cart: number[] }).cart).toContain(i));
  });

  it('fails with ERR_LIVE_SESSION_CONFLICT, writing nothing, when the key keeps changing', async () => {
    const sid = newSid();
    await createSession(sid, { n: 0 });
    const impatient = new LiveSessionStore({ client: store.client, prefix: PREFIX, updateAttempts: 3 });
    let calls = 0;
    const error = impatient.updateSession<number>(sid, 'x', async () => {
      calls++;
      await store.putSession(sid, 'x', calls); // another writer gets in every time
      return -1;
    });
    await expect(error).rejects.toMatchObject({ name: 'LiveSessionError', code: 'ERR_LIVE_SESSION_CONFLICT' });
    expect(calls).toBe(3);
    expect((await hashOf(admin, keyOf(sid))).x).toBe('3');
  });

  describe.each([
    ['never created', async () => newSid()],
    [
      'destroyed',
      async () => {
        const sid = newSid();
        await createSession(sid, { a: 1 });
        await store.destroy(sid);
        return sid;
      },
    ],
    [
      'expired',
      async () => {
        const sid = newSid();
        await createSession(sid, { a: 1 });
        await admin.pexpire(keyOf(sid), 1);
        await waitFor(async () => (await admin.exists(keyOf(sid))) === 0, { what: 'the session to expire' });
        return sid;
      },
    ],
  ])('on a session that was %s', (_what, prepare) => {
    let sid: string;
    beforeEach(async () => {
      sid = await prepare();
    });
    afterEach(async () => {
      expect(await admin.exists(keyOf(sid))).toBe(0);
    });

    it('putSession rejects with ERR_LIVE_SESSION_NOT_FOUND and creates nothing', async () => {
      await expect(store.putSession(sid, 'a', 2)).rejects.toMatchObject({ name: 'LiveSessionError', code: 'ERR_LIVE_SESSION_NOT_FOUND' });
    });

    it('updateSession rejects with ERR_LIVE_SESSION_NOT_FOUND, never calls fn, and creates nothing', async () => {
      const fn = jest.fn((n: number | undefined) => (n ?? 0) + 1);
      await expect(store.updateSession(sid, 'a', fn)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_NOT_FOUND' });
      expect(fn).not.toHaveBeenCalled();
    });

    it('deleteSessionKey rejects with ERR_LIVE_SESSION_NOT_FOUND and creates nothing', async () => {
      await expect(store.deleteSessionKey(sid, 'a')).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_NOT_FOUND' });
    });

    it('getSession and getSessionState answer null', async () => {
      expect(await store.getSession(sid)).toBeNull();
      expect(await store.getSessionState(sid)).toBeNull();
    });
  });

  it('rejects with ERR_LIVE_SESSION_NOT_FOUND when the session is destroyed while updateSession computes', async () => {
    const sid = newSid();
    await createSession(sid, { cart: [] });
    await expect(
      store.updateSession<string[]>(sid, 'cart', async (cart = []) => {
        await store.destroy(sid);
        return [...cart, 'late'];
      }),
    ).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_NOT_FOUND' });
    expect(await admin.exists(keyOf(sid))).toBe(0);
  });
});
