/**
 * The channels are a hint, Redis is the truth. Anyone allowed to PUBLISH on `live_session:<sid>`
 * can send anything there: forged changes must never hide a real write, a forged destroy must not
 * end a live session, and malformed, stale, replayed or out-of-order messages (a seeded fuzz) must
 * leave every socket equal to what Redis holds, without crashing or polluting anything. The real
 * defence, Redis ACLs on the channels, is tested at the end.
 */
import { CookieClient, seededRandom, startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import type { Socket } from 'socket.io';
import { type InProcessApp, RecordingSocket, sessionIdOfSocket, startInProcessApp } from './helpers';

let redis: TestRedis;
let publisher: Redis;
let app: InProcessApp;
const opened: RecordingSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  publisher = new Redis(redis.url);
  app = await startInProcessApp({ redisUrl: redis.url });
});

afterAll(async () => {
  for (const socket of opened) socket.close();
  await app?.close();
  publisher?.disconnect();
  await redis?.close();
});

async function loggedIn(user: string, on: InProcessApp = app) {
  const base = on.url;
  const client = new CookieClient(base);
  await client.post('/login', { user });
  const socket = await RecordingSocket.open(base, client.cookieHeader);
  opened.push(socket);
  await socket.until((s) => s.user === user);
  const serverSocket = await waitFor(() => on.sockets.find((s) => s.connected && s.data.session?.user === user));
  const sid = sessionIdOfSocket(serverSocket);
  return { client, socket, serverSocket, sid, channel: `live_session:${sid}` };
}

/** What Redis holds, as a socket sees it (no cookie) and as the browser sees it (no secret either). */
async function truth(sid: string) {
  const state = await app.store.getSessionState(sid);
  const { cookie: _cookie, ...view } = state!.session as unknown as Record<string, unknown>;
  const { secret: _secret, ...exposed } = view;
  return { view, exposed };
}

async function expectConverged(sid: string, socket: RecordingSocket, serverSocket: Socket) {
  const { view, exposed } = await truth(sid);
  await waitFor(() => JSON.stringify(app.live.sessionOf(serverSocket)) === JSON.stringify(view), { what: 'the view to equal Redis' });
  await socket.until((latest) => JSON.stringify(latest) === JSON.stringify(exposed), 'the browser to equal Redis');
  expect(socket.destroys).toBe(0);
}

test('a forged change that takes the next version cannot hide the real write of that version', async () => {
  const { client, socket, serverSocket, sid, channel } = await loggedIn('alice');
  const { version } = (await app.store.getSessionState(sid))!;
  await publisher.publish(channel, JSON.stringify({ format: 1, event: 'change', version: version + 1, set: { user: 'mallory' }, unset: [] }));
  await socket.until((s) => s.user === 'mallory', 'the forged change (indistinguishable until the real one comes)');

  // The real write takes the same version: the two differ, so the process reads Redis.
  await client.post('/set', { key: 'cart', value: ['real'] });
  await socket.until((s) => s.user === 'alice' && JSON.stringify(s.cart) === '["real"]', 'the real state');
  await expectConverged(sid, socket, serverSocket);
});

test('a write through this process replaces a forged view of the same version', async () => {
  const { socket, serverSocket, sid, channel } = await loggedIn('bob');
  const { version } = (await app.store.getSessionState(sid))!;
  await publisher.publish(channel, JSON.stringify({ format: 1, event: 'change', version: version + 1, set: { user: 'mallory', admin: true }, unset: [] }));
  await socket.until((s) => s.user === 'mallory');
  const written = await app.live.putSession(serverSocket, 'theme', 'dark');
  expect(written).toMatchObject({ user: 'bob', theme: 'dark' });
  expect(written).not.toHaveProperty('admin');
  await expectConverged(sid, socket, serverSocket);
});

test('a forged destroy does not end a live session: its socket keeps receiving changes', async () => {
  const { client, socket, serverSocket, sid, channel } = await loggedIn('carol');
  const { version } = (await app.store.getSessionState(sid))!;
  await publisher.publish(channel, JSON.stringify({ format: 1, event: 'destroy', version: version + 1, reason: 'revoked' }));
  await client.post('/set', { key: 'cart', value: ['after'] });
  await socket.until((s) => JSON.stringify(s.cart) === '["after"]');
  expect(socket.destroys).toBe(0);
  expect(app.live.sessionOf(serverSocket)).toMatchObject({ user: 'carol', cart: ['after'] });
  expect(app.live.channels).toContain(channel);
  await expectConverged(sid, socket, serverSocket);
});

test('fuzz: malformed, stale, replayed, out-of-order and forged messages interleaved with real writes end equal to Redis', async () => {
  const { socket, serverSocket, sid, channel } = await loggedIn('fuzz');
  // Record the real messages, to replay them later out of order.
  const recorder = new Redis(redis.url);
  const real: string[] = [];
  recorder.on('message', (_channel: string, raw: string) => real.push(raw));
  await recorder.subscribe(channel);
  const random = seededRandom(20261126);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const junk = [
    () => 'not json',
    () => '',
    () => 'null',
    () => '[]',
    () => '{"format":1}',
    () => JSON.stringify({ format: 1, event: 'change', version: Math.floor(random() * 100), set: { __proto__: { polluted: true } }, unset: [] }),
    () => '{"format":1,"event":"change","version":3,"set":{"__proto__":{"polluted":true}},"unset":["constructor"]}',
    () => JSON.stringify({ format: 1, event: 'change', version: -1, set: { x: 1 }, unset: [] }),
    () => JSON.stringify({ format: 1, event: 'change', version: Number.MAX_SAFE_INTEGER, set: { x: 1 }, unset: [] }),
    () => JSON.stringify({ format: 1, event: 'change', version: 1e300, set: {}, unset: [] }),
    () => JSON.stringify({ format: 1, event: 'reload', version: Math.floor(random() * 50) }),
    () => JSON.stringify({ format: 1, event: 'destroy', version: Math.floor(random() * 50), reason: pick(['logout', 'expired', 'revoked', 'x']) }),
    () => JSON.stringify({ format: 1, event: 'change', version: Math.floor(random() * 50), set: { user: 'mallory' }, unset: ['cart'] }),
    () => JSON.stringify({ format: 2, event: 'change', version: 1, set: { user: 'future' }, unset: [] }),
    () => (real.length > 0 ? pick(real) : 'x'), // a replay of a real message
    () => '{"format":1,"event":"change","version":1,"set":' + '['.repeat(5000) + ']'.repeat(5000) + ',"unset":[]}', // deep nesting
  ];
  for (let round = 0; round < 150; round++) {
    const roll = random();
    if (roll < 0.3) await app.store.putSession(sid, pick(['cart', 'theme', 'n', 'user']), round);
    else if (roll < 0.4) await app.store.deleteSessionKey(sid, pick(['cart', 'theme', 'n']));
    else await publisher.publish(channel, pick(junk)());
  }
  // Put the user back and finish with a real write, then everything must agree with Redis.
  await app.store.putSession(sid, 'user', 'fuzz');
  await app.store.putSession(sid, 'done', true);
  recorder.disconnect();
  await expectConverged(sid, socket, serverSocket);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect((await socket.emit<{ user: string }>('whoami')).user).toBe('fuzz');
});

test('Redis ACLs keep other users off the channels; the app works with only its keys and channels', async () => {
  // The app's user: its keys and channels only. Another tenant of the same Redis: its own only
  // (Redis 7's acl-pubsub-default is resetchannels: a new user has no channel unless granted).
  await publisher.call('ACL', 'SETUSER', 'app', 'on', '>app-secret', 'resetkeys', '~live_session:*', 'resetchannels', '&live_session:*', '+@all');
  await publisher.call('ACL', 'SETUSER', 'tenant', 'on', '>tenant-secret', 'resetkeys', '~tenant:*', 'resetchannels', '&tenant:*', '+@all');
  const tenant = new Redis(redis.url.replace('redis://', 'redis://tenant:tenant-secret@'));
  try {
    await expect(tenant.publish('live_session:anything', '{"format":1,"event":"destroy","version":9}')).rejects.toThrow(/NOPERM/);
    await expect(tenant.subscribe('live_session:anything')).rejects.toThrow(/NOPERM/);
    await expect(tenant.publish('tenant:news', 'ok')).resolves.toBe(0);
  } finally {
    tenant.disconnect();
  }
  const restricted = await startInProcessApp({ redisUrl: redis.url.replace('redis://', 'redis://app:app-secret@') });
  try {
    const { client, socket } = await loggedIn('acl-user', restricted);
    await client.post('/set', { key: 'cart', value: ['under acl'] });
    await socket.until((s) => JSON.stringify(s.cart) === '["under acl"]');
    await client.post('/logout');
    await waitFor(() => socket.destroys === 1, { what: 'the logout under the ACL' });
  } finally {
    await restricted.close();
  }
});
