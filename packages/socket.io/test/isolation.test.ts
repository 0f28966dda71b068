/**
 * 100 sessions across two servers in separate processes, random writes from both (HTTP and
 * socket): every socket receives only its own session's changes and ends with its exact state.
 */
import { startRedis, type TestRedis } from '@live-session/test-support';
import type { CookieClient } from '@live-session/test-support';
import { type AppServer, login, RecordingSocket, startServers } from './helpers';

const SESSIONS = 100;
const WRITES = 400;

let redis: TestRedis;
let servers: AppServer[];

beforeAll(async () => {
  redis = await startRedis();
  servers = await startServers(2, redis.url);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await redis.close();
});

test('every socket gets exactly its own session, and converges to its final state', async () => {
  // A seeded generator: a failure can be replayed.
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };

  const users = Array.from({ length: SESSIONS }, (_, i) => `user${i}`);
  const clients: CookieClient[] = await Promise.all(users.map((user, i) => login(servers[i % 2], user)));
  const sockets = await Promise.all(clients.map((client, i) => RecordingSocket.open(servers[(i + 1) % 2].url, client.cookieHeader)));
  await Promise.all(sockets.map((socket, i) => socket.until((s) => s.user === users[i], `user${i}'s initial session`)));

  try {
    const writes = Array.from({ length: WRITES }, (_, n) => {
      const i = random(SESSIONS);
      const key = `k${random(5)}`;
      const value = `${users[i]}:${n}`;
      if (random(2) === 0) return clients[i].forOrigin(servers[random(2)].url).post('/set', { key, value });
      return sockets[i].emit('put', { key, value });
    });
    await Promise.all(writes);

    for (let i = 0; i < SESSIONS; i++) {
      const { body } = await clients[i].get('/session');
      const { secret, ...expected } = body.data;
      expect(secret).toBe(`csrf-${users[i]}`);
      await sockets[i].until((latest) => JSON.stringify(latest) === JSON.stringify(expected), `user${i} to converge`);
      // Zero deliveries of another session's data: every value a socket ever got is its own.
      for (const update of sockets[i].updates) {
        expect(update.user).toBe(users[i]);
        for (const [key, value] of Object.entries(update)) {
          if (key.startsWith('k')) expect(String(value).startsWith(`${users[i]}:`)).toBe(true);
        }
      }
    }
    // The server-side handlers, too, were only ever called with the socket's own session's changes.
    const handled = sockets.flatMap((socket, i) => socket.handlerCalls.map((call) => ({ i, values: Object.values(call.change.set) })));
    expect(handled.length).toBeGreaterThan(0);
    for (const { i, values } of handled) for (const value of values) expect(String(value).startsWith(`${users[i]}:`)).toBe(true);
  } finally {
    sockets.forEach((socket) => socket.close());
  }
});
