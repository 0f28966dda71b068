/**
 * request.session as an express-session user expects it, on a real Fastify server and Redis:
 * when a session is stored and its cookie sent (saveUninitialized, rolling, secure, path), and
 * regenerate / destroy / reload / save / touch, as promises and with callbacks.
 */
import fastifyCookie from '@fastify/cookie';
import { LiveSessionStore } from '@live-session/core';
import { IncomingMessage } from 'node:http';
import { CLIENT_KINDS, startRedis, type TestClient, type TestRedis, waitFor } from '@live-session/test-support';
import signature from 'cookie-signature';
import type { FastifyInstance } from 'fastify';
import { exists, hashOf, newStore, Resources, SECRET, startFastify, type TestApp } from './helpers';

const HOUR = 60 * 60 * 1000;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.close());

/** One request with full control of the headers; the Set-Cookie headers as sent. */
async function send(url: string, path: string, { method = 'GET', cookie, headers = {}, body }: { method?: string; cookie?: string; headers?: Record<string, string>; body?: unknown } = {}) {
  const response = await fetch(url + path, {
    method,
    headers: { ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json: any = await response.json();
  return { status: response.status, setCookie: response.headers.getSetCookie(), body: json };
}

/** The session id a Set-Cookie header carries, checked against the secret as express-session would. */
function sidOf(setCookie: string, secret = SECRET): string | false {
  const value = decodeURIComponent(setCookie.split(';')[0].slice('connect.sid='.length));
  return value.startsWith('s:') && signature.unsign(value.slice(2), secret);
}

/** Routes of these tests only: the callback forms, an explicit save, a hand-made cookie change. */
function extraRoutes(store: () => LiveSessionStore) {
  return (app: FastifyInstance) => {
    app.post('/callbacks', (request, reply) => {
      request.session.regenerate((err) => {
        if (err) return reply.send(err);
        request.session.user = 'ada';
        request.session.save((saveErr) => {
          if (saveErr) return reply.send(saveErr);
          request.session.reload((reloadErr) => reply.send(reloadErr ?? { id: request.sessionID, user: request.session.user }));
        });
      });
    });
    app.post('/save-then-read', async (request) => {
      request.session.step = 'saved before the reply';
      await request.session.save();
      return { stored: (await store().getSession(request.sessionID)) as unknown };
    });
    app.post('/logout-callback', (request, reply) => {
      request.session.destroy((err) => reply.send(err ?? { session: request.session }));
    });
  };
}

declare module 'express-session' {
  interface SessionData {
    user: string;
    step: string;
  }
}

describe.each(CLIENT_KINDS)('request.session (%s)', (kind) => {
  const prefix = `fastify-api-${kind}:`;
  const resources = new Resources();
  let client: TestClient;
  let store: LiveSessionStore;
  let app: TestApp;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    client = await resources.client(kind, redis);
    store = newStore(client, { prefix });
    app = await startFastify(resources, store, { cookie: { maxAge: HOUR } }, { routes: extraRoutes(() => store) });
    apps.push(app);
  });
  afterAll(() => resources.closeAll());
  afterEach(() => apps.forEach((a) => expect(a.errors).toEqual([])));

  async function startAnother(...args: Parameters<typeof startFastify> extends [unknown, unknown, ...infer Rest] ? Rest : never) {
    const another = await startFastify(resources, store, ...args);
    apps.push(another);
    return another;
  }

  describe('a new session', () => {
    it('is neither stored nor sent until the request changes it (saveUninitialized: false)', async () => {
      const first = await send(app.url, '/session');
      expect(first.setCookie).toEqual([]);
      expect(await exists(client, prefix + first.body.id)).toBe(false);

      const changed = await send(app.url, '/set', { method: 'POST', body: { a: 1 } });
      expect(changed.setCookie).toHaveLength(1);
      expect(sidOf(changed.setCookie[0])).toBe(changed.body.id);
      expect(changed.setCookie[0]).toMatch(/^connect\.sid=s%3A[^;]+; Path=\/; Expires=[^;]+; HttpOnly$/);
      expect(await hashOf(client, prefix + changed.body.id)).toMatchObject({ a: '1' });
    });

    it('is stored and sent at once with saveUninitialized: true', async () => {
      const eager = await startAnother({ saveUninitialized: true });
      const first = await send(eager.url, '/session');
      expect(sidOf(first.setCookie[0])).toBe(first.body.id);
      expect(await exists(client, prefix + first.body.id)).toBe(true);
    });

    it('gets the cookie options: name, maxAge, path, sameSite', async () => {
      const named = await startAnother({ name: 'sid', cookie: { maxAge: 60_000, path: '/', sameSite: 'strict' } });
      const { setCookie, body } = await send(named.url, '/set', { method: 'POST', body: { a: 1 } });
      expect(setCookie[0]).toMatch(/^sid=s%3A[^;]+; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Strict$/);
      const pttl = Number(await client.command(prefix + body.id, 'PTTL', prefix + body.id));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(60_000);
    });
  });

  describe('a loaded session', () => {
    it('sends its cookie again only when rolling, or when a persistent cookie\'s session changed', async () => {
      const browser = app.client();
      await browser.post('/set', { a: 1 });
      const cookie = browser.cookieHeader;
      expect((await send(app.url, '/session', { cookie })).setCookie).toEqual([]);
      expect((await send(app.url, '/set', { method: 'POST', cookie, body: { a: 2 } })).setCookie).toHaveLength(1);

      const rolling = await startAnother({ rolling: true, cookie: { maxAge: HOUR } });
      expect((await send(rolling.url, '/session', { cookie })).setCookie).toHaveLength(1);
    });

    it('has its expiry moved forward by a request that changes nothing (the store\'s touch)', async () => {
      const browser = app.client();
      const { body } = await browser.post('/set', { a: 1 });
      const key = prefix + body.id;
      await client.command(key, 'PEXPIRE', key, 60_000); // as if the last use were long ago
      await browser.get('/session');
      expect(Number(await client.command(key, 'PTTL', key))).toBeGreaterThan(HOUR / 2);
    });

    it('regenerate: a new id, the old session destroyed, and the old cookie no longer loads anything', async () => {
      const browser = app.client();
      const before = (await browser.post('/set', { cart: ['book'] })).body;
      const oldCookie = browser.cookieHeader;
      const after = (await browser.post('/login', { user: 'ada' })).body;
      expect(after.id).not.toBe(before.id);
      expect(after.session).toMatchObject({ user: 'ada' });
      expect(after.session.cart).toBeUndefined(); // what to carry over is the app's choice
      expect(await exists(client, prefix + before.id)).toBe(false);
      expect(await hashOf(client, prefix + after.id)).toMatchObject({ user: '"ada"' });

      const stale = await send(app.url, '/session', { cookie: oldCookie });
      expect(stale.body.id).not.toBe(before.id);
      expect(stale.body.session.user).toBeUndefined();
      expect((await browser.get('/session')).body).toMatchObject({ id: after.id, session: { user: 'ada' } });
    });

    it('destroy: gone from Redis, request.session null, nothing saved and no cookie sent', async () => {
      const browser = app.client();
      const { body } = await browser.post('/login', { user: 'ada' });
      const logout = await send(app.url, '/logout-callback', { method: 'POST', cookie: browser.cookieHeader, body: {} });
      expect(logout.body).toEqual({ session: null });
      expect(logout.setCookie).toEqual([]);
      expect(await exists(client, prefix + body.id)).toBe(false);
    });

    it('reload: sees a change made elsewhere while the request ran, and the save at the end keeps it', async () => {
      const browser = app.client();
      const { body } = await browser.post('/login', { user: 'ada' });
      const gate = `reload-${body.id}`;
      const held = browser.post(`/hold/${gate}`, { reload: true, after: { theme: 'dark' } });
      await waitForGate(app, gate);
      await store.putSession(body.id, 'cart', ['book']); // a socket, a job, another server
      app.gates.open(gate);
      expect((await held).body.session).toMatchObject({ user: 'ada', cart: ['book'], theme: 'dark' });
      expect((await browser.get('/session')).body.session).toMatchObject({ user: 'ada', cart: ['book'], theme: 'dark' });
    });

    it('reload of a session destroyed meanwhile fails through Fastify\'s error handling, and re-creates nothing', async () => {
      const browser = app.client();
      const { body } = await browser.post('/login', { user: 'ada' });
      const gate = `reload-gone-${body.id}`;
      const held = browser.post(`/hold/${gate}`, { reload: true });
      await waitForGate(app, gate);
      await store.destroy(body.id);
      app.gates.open(gate);
      const reply = await held;
      expect(reply.status).toBe(500);
      expect(reply.body.error).toMatch(/failed to reload session .* no longer exists/);
      expect(app.errors.splice(0).map((e) => e.message)).toEqual([expect.stringMatching(/failed to reload/)]);
      expect(await exists(client, prefix + body.id)).toBe(false);
    });

    it('save: written before the reply', async () => {
      const browser = app.client();
      const { body } = await browser.post('/set', { a: 1 });
      const saved = await browser.post('/save-then-read', {});
      expect(saved.body.stored).toMatchObject({ a: 1, step: 'saved before the reply' });
      expect(await hashOf(client, prefix + body.id)).toMatchObject({ a: '1', step: '"saved before the reply"' });
    });

    it('takes callbacks as express-session\'s methods do', async () => {
      const browser = app.client();
      const before = (await browser.post('/set', { a: 1 })).body;
      const { body } = await browser.post('/callbacks', {});
      expect(body.user).toBe('ada');
      expect(body.id).not.toBe(before.id);
      expect(await exists(client, prefix + before.id)).toBe(false);
      expect(await hashOf(client, prefix + body.id)).toMatchObject({ user: '"ada"' });
    });
  });

  describe('the cookie\'s reach', () => {
    it('gives no session to a route outside the cookie\'s path', async () => {
      const scoped = await startAnother({ cookie: { path: '/app' } });
      const { body, setCookie } = await send(scoped.url, '/session');
      expect(body.session).toBeNull();
      expect(setCookie).toEqual([]);
    });

    it('sends a secure cookie only over https (request.protocol, which follows Fastify\'s trustProxy)', async () => {
      const secure = await startAnother({ cookie: { secure: true } }, { trustProxy: true });
      const overHttp = await send(secure.url, '/set', { method: 'POST', body: { a: 1 } });
      expect(overHttp.setCookie).toEqual([]);
      expect(await exists(client, prefix + overHttp.body.id)).toBe(true); // saved all the same, as express-session does
      const behindProxy = await send(secure.url, '/set', { method: 'POST', body: { a: 1 }, headers: { 'x-forwarded-proto': 'https' } });
      expect(behindProxy.setCookie[0]).toMatch(/; Secure$/);
    });

    it('secure: "auto" follows the request\'s protocol', async () => {
      const auto = await startAnother({ cookie: { secure: 'auto' } }, { trustProxy: true });
      expect((await send(auto.url, '/set', { method: 'POST', body: { a: 1 } })).setCookie[0]).not.toMatch(/Secure/);
      expect((await send(auto.url, '/set', { method: 'POST', body: { a: 1 }, headers: { 'x-forwarded-proto': 'https' } })).setCookie[0]).toMatch(/; Secure$/);
    });
  });
});

async function waitForGate(app: TestApp, gate: string) {
  await waitFor(() => app.gates.arrivedCount(gate) === 1, { what: `a request at gate ${gate}` });
}

describe('beside @fastify/cookie', () => {
  const resources = new Resources();
  afterAll(() => resources.closeAll());

  it('both cookies are sent: the app\'s and the session\'s', async () => {
    const client = await resources.client('ioredis', redis);
    const app = await startFastify(resources, newStore(client, { prefix: 'fastify-api-cookie:' }), {}, {
      routes: (fastify) => {
        fastify.register(fastifyCookie);
        fastify.register(async (scope) => {
          scope.post('/theme', async (request, reply) => {
            reply.setCookie('theme', 'dark');
            request.session.user = 'ada';
            return { id: request.sessionID };
          });
        });
      },
    });
    const { setCookie, body } = await send(app.url, '/theme', { method: 'POST', body: {} });
    expect(setCookie.map((c) => c.split('=')[0]).sort()).toEqual(['connect.sid', 'theme']);
    expect(sidOf(setCookie.find((c) => c.startsWith('connect.sid='))!)).toBe(body.id);
    expect(app.errors).toEqual([]);
  });
});

describe('the store\'s options that take the request', () => {
  const resources = new Resources();
  afterAll(() => resources.closeAll());

  it('describe (the sessions of a user) gets Node\'s request, as under Express', async () => {
    const client = await resources.client('ioredis', redis);
    const seen: unknown[] = [];
    const store = new LiveSessionStore({
      client: client.client,
      prefix: 'fastify-api-index:',
      indexPrefix: 'fastify-api-users:',
      userOf: (s) => (s as { user?: string }).user,
      describe: (req) => {
        seen.push(req);
        return req?.headers['user-agent'] ?? null;
      },
    });
    const app = await startFastify(resources, store);
    const response = await fetch(`${app.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'test browser' }, body: '{"user":"ada"}' });
    const { id } = (await response.json()) as { id: string };
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(IncomingMessage);
    expect(await store.sessionsOf('ada')).toEqual([expect.objectContaining({ id, info: 'test browser' })]);
    expect(app.errors).toEqual([]);
  });
});
