/**
 * Live updates across a switch from connect-redis: a socket whose session connect-redis stored (a
 * JSON string under the store's prefix) gets it, and when a connect-redis server still running
 * rewrites it (a rolling deploy), the socket gets what that server wrote once the session is used
 * again: the migration's version jump makes live-session read it again.
 */
import { CookieClient, startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import type { Socket } from 'socket.io';
import { LiveSessionStore } from '@live-session/core';
import { type InProcessApp, RecordingSocket, startInProcessApp } from './helpers';

const HOUR = 60 * 60 * 1000;
let redis: TestRedis;
let admin: Redis;
let app: InProcessApp;
let url: string;
let serverSockets: Socket[];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  app = await startInProcessApp({ redisUrl: redis.url });
  url = app.url;
  serverSockets = app.sockets;
});

afterAll(async () => {
  await app?.close();
  admin?.disconnect();
  await redis?.close();
});

/** What connect-redis stores: `SET prefix+sid json EX ttl`, the whole session as one JSON string. */
async function writeAsConnectRedis(key: string, data: Record<string, unknown>): Promise<void> {
  const cookie = { originalMaxAge: HOUR, expires: new Date(Date.now() + HOUR).toISOString(), httpOnly: true, path: '/' };
  await admin.set(key, JSON.stringify({ cookie, ...data }), 'EX', HOUR / 1000);
}

test('a socket of a connect-redis session gets it, and gets what a connect-redis server writes meanwhile', async () => {
  // A session with a signed cookie, then stored as connect-redis would have stored it.
  const client = new CookieClient(url);
  await client.post('/login', { user: 'ada' });
  const { body } = await client.get('/session');
  const sid = body.id as string;
  const key = app.store.keyOf(sid);
  await admin.del(key);
  await writeAsConnectRedis(key, { user: 'ada', cart: ['a'] });

  const socket = await RecordingSocket.open(url, client.cookieHeader);
  try {
    await socket.until((s) => s.user === 'ada' && JSON.stringify(s.cart) === '["a"]', 'the connect-redis session on the socket');
    expect(await admin.type(key)).toBe('hash');
    await waitFor(() => serverSockets.find((s) => s.connected && s.data.session?.user === 'ada'), { what: 'the server socket' });

    // An old server saves the whole session (over the hash), then another new server writes a key:
    // this app hears only the published messages.
    await writeAsConnectRedis(key, { user: 'ada', cart: ['a', 'from an old server'] });
    const other = new LiveSessionStore({ client: admin });
    await other.putSession(sid, 'note', 'from a new server');
    await socket.until((s) => JSON.stringify(s.cart) === '["a","from an old server"]' && s.note === 'from a new server', 'both writes on the socket');
  } finally {
    socket.close();
  }
});
