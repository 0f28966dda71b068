/**
 * The two guarantees of the store in a Fastify app, with real HTTP and a real Redis, on both
 * clients: concurrent requests of one session each changing its own key all keep their change, and
 * a request that outlives a logout does not bring the session back. The same tests against
 * @fastify/session with the same store show why the plugin exists.
 */
import type { LiveSessionStore } from '@live-session/core';
import { CLIENT_KINDS, startRedis, type TestClient, type TestRedis, waitFor } from '@live-session/test-support';
import { exists, hashOf, newStore, Resources, startFastify, startFastifySession, type TestApp } from './helpers';

const HOUR = 60 * 60 * 1000;
const CONCURRENT = 200;
const keysOf = (session: Record<string, unknown>) => Object.keys(session).filter((k) => /^k\d+$/.test(k));

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.close());

describe.each(CLIENT_KINDS)('a Fastify app with @live-session/fastify (%s)', (kind) => {
  const prefix = `fastify-concurrency-${kind}:`;
  const resources = new Resources();
  let client: TestClient;
  let store: LiveSessionStore;
  let app: TestApp;

  beforeAll(async () => {
    client = await resources.client(kind, redis);
    store = newStore(client, { prefix });
    app = await startFastify(resources, store, { cookie: { maxAge: HOUR } });
  });
  afterAll(() => resources.closeAll());
  afterEach(() => expect(app.errors).toEqual([]));

  it(`keeps all ${CONCURRENT} keys of ${CONCURRENT} concurrent requests that all loaded the session before any of them saved`, async () => {
    const browser = app.client();
    const { body } = await browser.post('/set', { user: 'ada' });
    const responses = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => browser.post(`/together/all-${kind}/${CONCURRENT}`, { [`k${i}`]: i })));
    expect(responses.map((r) => r.status)).toEqual(Array(CONCURRENT).fill(200));
    expect(new Set(responses.map((r) => r.body.id))).toEqual(new Set([body.id]));

    const hash = await hashOf(client, prefix + body.id);
    const missing = Array.from({ length: CONCURRENT }, (_, i) => `k${i}`).filter((key) => hash[key] !== key.slice(1));
    expect(missing).toEqual([]);
    expect(hash.user).toBe('"ada"');
    expect(hash.$v).toBe(String(CONCURRENT + 1)); // one version per change: nothing was merged away
    expect(keysOf((await browser.get('/session')).body.session)).toHaveLength(CONCURRENT);
  });

  it(`keeps all ${CONCURRENT} keys of ${CONCURRENT} concurrent requests running freely`, async () => {
    const browser = app.client();
    const { body } = await browser.post('/set', { user: 'ada' });
    const responses = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => browser.post('/set', { [`k${i}`]: i })));
    expect(responses.map((r) => r.status)).toEqual(Array(CONCURRENT).fill(200));
    expect(keysOf((await browser.get('/session')).body.session)).toHaveLength(CONCURRENT);
    expect((await hashOf(client, prefix + body.id)).$v).toBe(String(CONCURRENT + 1));
  });

  describe('a request that loaded the session before a logout in another tab', () => {
    it.each([
      ['changes a key', { after: { cart: ['late'] } }],
      ['changes only its cookie', { maxAge: 2 * HOUR }],
      ['changes nothing', {}],
    ])('does not bring the session back when it %s', async (_what, hold) => {
      const browser = app.client();
      const { body } = await browser.post('/login', { user: 'ada' });
      expect(await exists(client, prefix + body.id)).toBe(true);
      const gate = `late-${body.id}`;
      const late = browser.post(`/hold/${gate}`, hold);
      await waitFor(() => app.gates.arrivedCount(gate) === 1, { what: 'the late request to load the session' });

      expect((await browser.forOrigin(app.url).post('/logout')).body).toEqual({ ok: true });
      expect(await exists(client, prefix + body.id)).toBe(false);

      app.gates.open(gate);
      expect((await late).status).toBe(200);
      expect(await exists(client, prefix + body.id)).toBe(false);
      // The browser's cookie names a session that is gone: the next request starts a new one.
      const next = (await browser.get('/session')).body;
      expect(next.id).not.toBe(body.id);
      expect(next.session.user).toBeUndefined();
    });
  });
});

describe.each(CLIENT_KINDS)('@fastify/session 11 with the same store, for comparison (%s)', (kind) => {
  const prefix = `fastify-session-${kind}:`;
  const resources = new Resources();
  let client: TestClient;
  let app: TestApp;

  beforeAll(async () => {
    client = await resources.client(kind, redis);
    app = await startFastifySession(resources, newStore(client, { prefix }));
  });
  afterAll(() => resources.closeAll());
  afterEach(() => expect(app.errors).toEqual([]));

  // It hands the store a copy of what get() read, never calling createSession, and saves the whole
  // session: each save replaces the others'.
  it(`keeps 1 of ${CONCURRENT} keys when the requests all loaded the session before any of them saved`, async () => {
    const browser = app.client();
    const { body } = await browser.post('/set', { user: 'ada' });
    const responses = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => browser.post(`/together/all-${kind}/${CONCURRENT}`, { [`k${i}`]: i })));
    expect(responses.map((r) => r.status)).toEqual(Array(CONCURRENT).fill(200));
    const hash = await hashOf(client, prefix + body.id);
    expect(keysOf(hash)).toHaveLength(1);
    expect(hash.user).toBe('"ada"');
  });

  it('brings a logged-out session back, with the old id, when a request that loaded it ends after the logout', async () => {
    const browser = app.client();
    const { body } = await browser.post('/login', { user: 'ada' });
    const gate = `late-${body.id}`;
    const late = browser.post(`/hold/${gate}`, { after: { cart: ['late'] } });
    await waitFor(() => app.gates.arrivedCount(gate) === 1, { what: 'the late request to load the session' });
    expect((await browser.forOrigin(app.url).post('/logout')).body).toEqual({ ok: true });
    expect(await exists(client, prefix + body.id)).toBe(false);

    app.gates.open(gate);
    expect((await late).status).toBe(200);
    const hash = await hashOf(client, prefix + body.id);
    expect(hash).toMatchObject({ user: '"ada"', cart: '["late"]' }); // logged in again, with the old cookie
  });
});
