/**
 * The demo's activity log (src/activity.js), fed by the store's session events: two app servers as
 * separate processes on one private Redis, idle sessions living 1.5 s (SESSION_LIFETIME), browsers
 * as cookie jars posting the demo's forms. Each event of the user shows up once, whichever server
 * handled it: signed in, signed out, signed out on another device, expired.
 */
import { join } from 'node:path';
import { startChild, startRedis, waitFor, type ChildServer, type TestRedis } from '@live-session/test-support';

const SERVER = join(__dirname, '..', 'src', 'server.js');
const LIFETIME = 1500;

let redis: TestRedis;
let servers: ChildServer[] = [];

beforeAll(async () => {
  redis = await startRedis();
  const env = { REDIS_URL: redis.url, SESSION_SECRET: 'activity test', SESSION_LIFETIME: String(LIFETIME), PORT: '0' };
  servers = await Promise.all(['A', 'B'].map((name) => startChild(SERVER, { ...env, SERVER_NAME: name })));
}, 30_000);
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await redis?.close();
});

/** A browser: one cookie jar, posting forms to either server. */
class Browser {
  private cookie = '';

  async request(server: number, method: string, path: string, form?: Record<string, string>) {
    const response = await fetch(`http://127.0.0.1:${servers[server].info.port as number}${path}`, {
      method,
      redirect: 'manual',
      headers: { cookie: this.cookie, accept: 'application/json', ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const header of response.headers.getSetCookie()) this.cookie = header.split(';')[0];
    return response;
  }

  login(server: number, name: string) {
    return this.request(server, 'POST', '/login', { name });
  }
}

type Entry = { what: string; type: string; device: string; at: number };

it('shows signed in, signed out, signed out on another device and expired, each once', async () => {
  const [first, second, third, fourth, reader] = Array.from({ length: 5 }, () => new Browser());
  const user = `ada-${process.pid}`;
  await first.login(0, user);
  await second.login(1, user);
  await third.login(0, user);
  await fourth.login(1, user);
  await third.request(0, 'POST', '/logout');
  // The second browser logs out every other device: the first and the fourth are revoked...
  expect((await second.request(1, 'POST', '/devices/logout-others')).status).toBe(200);
  // ... and the second, left alone, expires after LIFETIME ms. The reader's session stays alive
  // because it reads (every read refreshes it).
  await reader.login(0, user);
  const activity = await waitFor(
    async () => {
      const { activity: entries } = (await (await reader.request(1, 'GET', '/activity')).json()) as { activity: Entry[] };
      return entries.some((e) => e.type === 'expired') ? entries : null;
    },
    { timeout: 20_000, interval: 250, what: 'an expired entry in the activity log' },
  );
  const count = (type: string) => activity.filter((e) => e.type === type).length;
  expect(count('created')).toBe(5);
  expect(count('destroyed')).toBe(1); // the third browser's logout
  expect(count('revoked')).toBe(2); // the first and the fourth, logged out by the second
  expect(count('expired')).toBe(1); // the second
  expect(activity.find((e) => e.type === 'created')!.what).toBe('signed in');
  expect(activity.find((e) => e.type === 'destroyed')!.what).toBe('signed out');
  expect(activity.find((e) => e.type === 'revoked')!.what).toBe('signed out on another device');
  expect(activity.find((e) => e.type === 'expired')!.what).toBe('expired');
  expect(activity.every((e) => typeof e.device === 'string' && e.at > 0)).toBe(true);
}, 60_000);
