/**
 * The session id comes only from the signed cookie, through express-session: a client that names
 * someone else's session (handshake auth, query, an unsigned or forged cookie, a client event)
 * neither receives nor writes that session.
 */
import { startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { type AppServer, login, RecordingSocket, startServers } from './helpers';

let redis: TestRedis;
let redisClient: Redis;
let server: AppServer;

beforeAll(async () => {
  redis = await startRedis();
  redisClient = new Redis(redis.url);
  [server] = await startServers(1, redis.url);
});

afterAll(async () => {
  await server?.stop();
  redisClient?.disconnect();
  await redis?.close();
});

test('a forged, unsigned or client-supplied session id gets nothing and writes nothing', async () => {
  const victim = await login(server, 'victim');
  const signed = decodeURIComponent(victim.cookie('connect.sid')!); // s:<sid>.<signature>
  const sid = signed.slice(2, signed.lastIndexOf('.'));
  const victimSocket = await RecordingSocket.open(server.url, victim.cookieHeader);
  await victimSocket.until((s) => s.user === 'victim');

  const attackers = await Promise.all([
    RecordingSocket.open(server.url, undefined, { auth: { sid, sessionID: sid } }),
    // (not `sid`: engine.io's own query parameter)
    RecordingSocket.open(server.url, undefined, { query: { sessionID: sid, 'connect.sid': sid } }),
    RecordingSocket.open(server.url, `connect.sid=${encodeURIComponent(sid)}`), // unsigned
    RecordingSocket.open(server.url, `connect.sid=${encodeURIComponent(`s:${sid}.forgedsignatureAAAAAAAAAAAAAAAAAAAAAAAAAAAA`)}`),
    RecordingSocket.open(server.url, `connect.sid=${encodeURIComponent(`s:${sid}.`)}`),
  ]);
  try {
    for (const attacker of attackers) {
      // An app that forwards a client-chosen id to maybeSubscribe is refused too.
      expect(await attacker.emit('subscribe', sid)).toBe(false);
      expect(await attacker.emit('whoami')).toEqual({ user: null, data: null });
      const put = await attacker.emit<{ ok: boolean; error?: string }>('put', { key: 'user', value: 'mallory' });
      expect(put.ok).toBe(false);
    }

    // The victim's next change: once the victim's own socket (same server) has it, an attacker
    // subscribed to that session would have it too.
    await victim.post('/set', { key: 'cart', value: ['private'] });
    await victimSocket.until((s) => JSON.stringify(s.cart) === '["private"]');
    for (const attacker of attackers) {
      expect(attacker.updates).toEqual([]);
      expect(attacker.handlerCalls).toEqual([]);
    }
    const { body } = await victim.get('/session');
    expect(body.data.user).toBe('victim');
    // Only the victim's channel is subscribed: no attacker made the server follow anything else.
    await waitFor(async () => {
      const channels = await redisClient.pubsub('CHANNELS', 'live_session:*');
      return channels.length === 1 && channels[0] === `live_session:${sid}`;
    });
  } finally {
    [victimSocket, ...attackers].forEach((socket) => socket.close());
  }
});
