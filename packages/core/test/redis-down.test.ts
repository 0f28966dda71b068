/** Redis stopped and restarted under a running app: bounded 5xx, no crash, recovery on its own. */
import { CLIENT_KINDS, createTestClient, startRedis, type TestClient, type TestRedis, waitFor } from '@live-session/test-support';
import { runInThisContext } from 'node:vm';
import { LiveSessionError, LiveSessionStore } from '../src';
import { hashOf, rejectionOf, Resources, startApp, type TestApp } from './helpers';

const PREFIX = 'redis_down:';
const HOUR = 60 * 60 * 1000;
const TIMEOUT = 500; // the store's `timeout` option in this file
/** A generous bound on a request while Redis is down: without the store's timeout, it would hang. */
const REQUEST_BOUND = 10_000;

let redis: TestRedis;
const resources = new Resources();
let storeClient: TestClient;
let failFastClient: TestClient;
let store: LiveSessionStore;
let app: TestApp;
const unhandled = jest.fn();
/**
 * The real process: jest gives each test file a copy of `process`, and a listener on the copy never
 * hears of an unhandled rejection. (jest-circus listens on the real one too, and fails the test.)
 */
const realProcess = runInThisContext('process') as NodeJS.Process;

beforeAll(async () => {
  redis = await startRedis({ restartable: true });
  resources.add(redis, (r) => r.close());
  realProcess.on('unhandledRejection', unhandled);
});
afterAll(async () => {
  realProcess.off('unhandledRejection', unhandled);
  await resources.closeAll();
});

/** A request through the app with a browser's cookie, aborted (failing the test) if it takes longer than REQUEST_BOUND. */
async function request(method: string, path: string, cookie: string) {
  const response = await fetch(app.url + path, {
    method,
    headers: { cookie, 'content-type': 'application/json' },
    body: method === 'GET' ? undefined : '{}',
    signal: AbortSignal.timeout(REQUEST_BOUND),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

it('listens where unhandled rejections are reported (so the test below can fail)', () => {
  expect(realProcess).not.toBe(process);
  expect(realProcess.listeners('unhandledRejection')).toContain(unhandled);
  expect(realProcess.listenerCount('unhandledRejection')).toBeGreaterThan(1); // jest's own listener is there too
});

describe.each(CLIENT_KINDS)('through %s', (kind) => {
  beforeAll(async () => {
    // Reconnect attempts every 100 ms instead of the library's growing back-off, so recovery is
    // quick; commands wait in the offline queue (ioredis: no retry limit), so the store's `timeout`
    // is what fails them. The fail-fast client (no offline queue) connects now, while Redis is up.
    storeClient = resources.add(await createTestClient(kind, { url: redis.url }, { fastReconnect: true }), (c) => c.close());
    failFastClient = resources.add(await createTestClient(kind, { url: redis.url }, { fastReconnect: true, failFast: true }), (c) => c.close());
    store = new LiveSessionStore({ client: storeClient.client, prefix: PREFIX, timeout: TIMEOUT });
    app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
  });

  it('answers 5xx within the timeout while Redis is down, never crashes, and works again once it is back', async () => {
    const browser = app.client();
    expect((await browser.post('/count')).body.session.count).toBe(1);

    await redis.stop();
    try {
      for (const [method, path] of [
        ['GET', '/session'], // express-session's get fails: next(err)
        ['POST', '/count'],
        ['POST', '/logout'],
      ]) {
        const failed = await request(method, path, browser.cookieHeader);
        expect({ method, path, status: failed.status, body: failed.body }).toEqual({ method, path, status: 500, body: { error: 'ERR_LIVE_SESSION_TIMEOUT' } });
      }
      expect(app.errors.splice(0).map((e) => (e as Error & { code?: string }).code)).toEqual(Array(3).fill('ERR_LIVE_SESSION_TIMEOUT'));

      // The direct API fails the same way.
      const error = await rejectionOf(store.getSession('any'));
      expect(error.code).toBe('ERR_LIVE_SESSION_TIMEOUT');
      expect(error.message).toContain(`${TIMEOUT} ms`);
      await expect(store.length()).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_TIMEOUT' });

      // A client without offline queue fails at once, with the client's error as the cause.
      const failFast = new LiveSessionStore({ client: failFastClient.client, prefix: PREFIX });
      const redisError = await rejectionOf(failFast.getSession('any'));
      expect(redisError).toBeInstanceOf(LiveSessionError);
      expect(redisError.code).toBe('ERR_LIVE_SESSION_REDIS');
      expect(redisError.cause).toBeInstanceOf(Error);
    } finally {
      await redis.start();
    }

    // The client reconnects by itself; the private Redis has no persistence, so the session starts afresh.
    await waitFor(async () => (await request('GET', '/session', browser.cookieHeader)).status === 200, { what: 'the app to work again', timeout: 20_000 });
    app.errors.splice(0); // the failed attempts while the client was reconnecting
    const again = await browser.post('/count');
    expect(again.status).toBe(200);
    expect(again.body.session.count).toBe(1);
    expect((await hashOf(storeClient, PREFIX + again.body.id)).count).toBe('1');
    expect(app.errors).toEqual([]);
    expect(unhandled).not.toHaveBeenCalled();
  });
});
