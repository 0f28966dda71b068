/**
 * Redis goes away while sockets are subscribed; changes are made while the subscriber is
 * disconnected (messages published then are lost for good): every socket still ends with the
 * final state, because the process reloads its sessions after resubscribing.
 */
import { CLIENT_KINDS, startRedis, type TestRedis } from '@live-session/test-support';
import Redis from 'ioredis';
import { type AppServer, login, RecordingSocket, startServers } from './helpers';
import type { CookieClient } from '@live-session/test-support';

let redis: TestRedis;
let admin: Redis;
let A: AppServer;
let B: AppServer;

beforeAll(async () => {
  // Persistent: the sessions must survive the restart, as they would on a real deployment.
  redis = await startRedis({ restartable: true, persistent: true });
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.close();
});

async function loggedInSockets(count: number): Promise<{ clients: CookieClient[]; sockets: RecordingSocket[] }> {
  const clients = await Promise.all(Array.from({ length: count }, (_, i) => login(i % 2 ? A : B, `u${i}-${Date.now()}`)));
  const sockets = await Promise.all(clients.map((client, i) => RecordingSocket.open((i % 2 ? B : A).url, client.cookieHeader)));
  await Promise.all(sockets.map((socket) => socket.until((s) => typeof s.user === 'string')));
  return { clients, sockets };
}

async function expectConverged(clients: CookieClient[], sockets: RecordingSocket[]) {
  for (let i = 0; i < clients.length; i++) {
    const { body } = await clients[i].get('/session');
    const { secret: _secret, ...expected } = body.data;
    await sockets[i].until((latest) => JSON.stringify(latest) === JSON.stringify(expected), `socket ${i} to converge`);
  }
}

// The app servers on either client library: node-redis resubscribes by itself, ioredis is told not
// to (the subscriber does it); both must reload every local session afterwards.
describe.each(CLIENT_KINDS)('app servers on %s', (kind) => {
  beforeAll(async () => {
    [A, B] = await startServers(2, { REDIS_URL: redis.url, REDIS_CLIENT: kind });
  });
  afterAll(async () => {
    await Promise.all([A?.stop(), B?.stop()]);
  });

  test('writes made while the subscribers are cut off reach every socket after they resubscribe', async () => {
    const { clients, sockets } = await loggedInSockets(6);
    try {
      // Cut every pub/sub connection (both servers' subscribers), then write at once: the messages
      // are published while no subscriber listens.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await Promise.all(clients.map((client, i) => client.post('/set', { key: 'during', value: i })));
      await expectConverged(clients, sockets);
      expect(sockets.every((socket) => socket.socket.connected)).toBe(true);
    } finally {
      sockets.forEach((socket) => socket.close());
    }
  });

  test('a change whose message was lost reaches every socket once the subscribers reconnect', async () => {
    // Deterministic, however fast a client reconnects: the change is written with its version but
    // never published (as if its message were lost), then the subscriber connections are cut. Only
    // the reload of every local session after resubscribing can bring it to the sockets.
    const { clients, sockets } = await loggedInSockets(4);
    try {
      for (const client of clients) {
        const key = `live_session:${(await client.get('/session')).body.id as string}`;
        const version = Number(await admin.hget(key, '$v'));
        await admin.hset(key, 'silent', '"lost message"', '$v', String(version + 1));
      }
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      await expectConverged(clients, sockets);
      for (const socket of sockets) expect(socket.latest?.silent).toBe('lost message');
    } finally {
      sockets.forEach((socket) => socket.close());
    }
  });

  test('Redis stopped and restarted mid-test: every socket ends with the final state, no server crashes', async () => {
    const { clients, sockets } = await loggedInSockets(6);
    try {
      await Promise.all(clients.map((client, i) => client.post('/set', { key: 'before', value: i })));
      await redis.stop();
      // While Redis is down a request fails with a 5xx instead of hanging; the servers stay up.
      const down = await clients[0].post('/set', { key: 'lost', value: true });
      expect(down.status).toBeGreaterThanOrEqual(500);
      await redis.start();
      // Writes right after the restart, racing the subscribers' reconnection.
      for (let round = 0; round < 3; round++) {
        await Promise.all(clients.map((client, i) => client.post('/set', { key: 'after', value: `${round}-${i}` })));
      }
      await expectConverged(clients, sockets);
      expect(A.process.exitCode).toBeNull();
      expect(B.process.exitCode).toBeNull();
    } finally {
      sockets.forEach((socket) => socket.close());
    }
  });
});
