/**
 * Soak: writers (HTTP and direct API), readers, sockets connecting and leaving, and a Redis crash
 * and restart, all at once for a bounded time. Afterwards every socket that stayed shows exactly
 * what Redis holds, nothing crashed, and once every socket left, the process is back to its
 * baseline: no channel subscribed, no session followed, the heap where it was.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CookieClient, seededRandom, startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { io as connect } from 'socket.io-client';
import { type InProcessApp, RecordingSocket, startInProcessApp } from './helpers';

const SOAK_MS = 30_000;
const SESSIONS = 12;

let redis: TestRedis;
let admin: Redis;
let app: InProcessApp;
let url: string;

beforeAll(async () => {
  redis = await startRedis({ restartable: true, persistent: true });
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  app = await startInProcessApp({ redisUrl: redis.url });
  url = app.url;
});

afterAll(async () => {
  await app?.close();
  admin?.disconnect();
  await redis?.close();
});

test('writers, readers, socket churn and a Redis restart at once: every socket ends equal to Redis, and the process returns to baseline', async () => {
  const gc = exposeGc();
  // Warm up (module loading, first connections) before the baseline.
  const warm = await loginWithSocket('warmup');
  warm.socket.close();
  await waitFor(() => app.live.channels.length === 0, { what: 'the warm-up channel to go' });
  gc();
  const baselineHeap = process.memoryUsage().heapUsed;

  const users = Array.from({ length: SESSIONS }, (_, i) => `soak-${i}`);
  const stayers = await Promise.all(users.map((user) => loginWithSocket(user)));
  const errors = { http: 0, direct: 0, churn: 0 };
  const deadline = Date.now() + SOAK_MS;
  const random = seededRandom(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

  const writer = async () => {
    for (let n = 0; Date.now() < deadline; n++) {
      const { client, sid } = pick(stayers);
      const ok = random() < 0.5
        ? await client.post('/set', { key: pick(['cart', 'theme', 'n']), value: n }).then((r) => r.status === 200, () => false)
        : await app.store.putSession(sid, pick(['cart', 'theme', 'n']), n).then(() => true, () => false);
      if (!ok) errors.http++;
    }
  };
  const reader = async () => {
    while (Date.now() < deadline) {
      await pick(stayers).client.get('/session').catch(() => errors.http++);
    }
  };
  const churn = async () => {
    while (Date.now() < deadline) {
      const { client } = pick(stayers);
      const socket = connect(url, { transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie: client.cookieHeader } });
      socket.on('connect_error', () => errors.churn++);
      await new Promise((resolve) => setTimeout(resolve, 50 + random() * 300));
      socket.disconnect();
    }
  };
  const outage = async () => {
    await new Promise((resolve) => setTimeout(resolve, SOAK_MS / 3));
    await redis.stop();
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await redis.start();
  };
  await Promise.all([writer(), writer(), writer(), reader(), reader(), churn(), churn(), churn(), outage()]);

  // A last write to every session after everything settled, then every stayer must agree with Redis.
  for (const { client } of stayers) await waitFor(async () => (await client.post('/set', { key: 'final', value: true })).status === 200, { what: 'Redis back' });
  for (const { sid, socket, user } of stayers) {
    const state = await app.store.getSessionState(sid);
    const { cookie: _cookie, secret: _secret, ...expected } = state!.session as unknown as Record<string, unknown>;
    expect(expected.user).toBe(user);
    await socket.until((latest) => JSON.stringify(latest) === JSON.stringify(expected), `${user}'s socket to equal Redis`);
    expect(socket.destroys).toBe(0);
    expect(socket.socket.connected).toBe(true);
  }
  console.log(`SOAK ${SOAK_MS} ms: failed requests/writes ${errors.http} (during the outage), refused connections ${errors.churn}`);

  // Everyone leaves: no channel, no followed session, no heap growth.
  for (const { socket } of stayers) socket.close();
  await waitFor(() => app.live.channels.length === 0, { what: 'every channel unsubscribed', timeout: 15_000 });
  const numsub = (await admin.pubsub('CHANNELS', 'live_session:*')) as string[];
  expect(numsub).toEqual([]);
  await waitFor(
    () => {
      gc();
      return process.memoryUsage().heapUsed - baselineHeap < 24 * 1024 * 1024;
    },
    { what: `the heap to return within 24 MB of its baseline (${Math.round(baselineHeap / 1e6)} MB)`, timeout: 15_000 },
  );
}, 120_000);

async function loginWithSocket(user: string) {
  const client = new CookieClient(url);
  await client.post('/login', { user });
  const socket = await RecordingSocket.open(url, client.cookieHeader);
  await socket.until((s) => s.user === user);
  const value = decodeURIComponent(client.cookie('connect.sid')!);
  return { user, client, socket, sid: value.slice(2, value.lastIndexOf('.')) };
}

/** A forced garbage collection, for heap comparisons. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
