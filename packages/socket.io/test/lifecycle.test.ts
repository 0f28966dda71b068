/**
 * The end of a session reaches every socket on every server, with the reason: logout, expiry (no
 * message is published when a TTL passes: each server checks the sessions it holds), a write that
 * finds the session gone. keepAlive makes socket activity count as use of the session.
 * Two app servers in separate processes share one private Redis.
 */
import { createHmac } from 'node:crypto';
import { CookieClient, startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { LiveSessionStore } from '@live-session/core';
import { type AppServer, login, RecordingSocket, startServers } from './helpers';

let redis: TestRedis;
let admin: Redis;
let A: AppServer;
let B: AppServer;
let K: AppServer; // keepAlive on
let KI: AppServer; // keepAlive on, with the user index
const sockets: RecordingSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  // With the sessions of a user on (userOf): the lifecycle holds with the index, and revocation is tested.
  [A, B] = await startServers(2, redis.url, { USER_INDEX: '1' });
  // keepAlive with and without the user index: both touch paths run.
  [K, KI] = await Promise.all([startServers(1, redis.url, { KEEP_ALIVE: '1', NAME: 'K' }), startServers(1, redis.url, { KEEP_ALIVE: '1', USER_INDEX: '1', NAME: 'KI' })]).then(([[k], [ki]]) => [k, ki]);
});

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await Promise.all([A?.stop(), B?.stop(), K?.stop(), KI?.stop()]);
  admin?.disconnect();
  await redis?.close();
});

async function open(server: AppServer, client: CookieClient): Promise<RecordingSocket> {
  const socket = await RecordingSocket.open(server.url, client.cookieHeader);
  sockets.push(socket);
  await socket.until((s) => typeof s.user === 'string', `${server.url}'s first update`);
  return socket;
}

/** The session id inside express-session's signed cookie. */
function sidOf(client: CookieClient): string {
  const value = decodeURIComponent(client.cookie('connect.sid')!);
  return value.slice(2, value.lastIndexOf('.'));
}

/** When Redis will drop the session, as PTTL says now (PTTL does not refresh it). */
async function expiryOf(sid: string): Promise<number> {
  const pttl = await admin.pttl(`live_session:${sid}`);
  return Date.now() + pttl;
}

const whoami = (socket: RecordingSocket) => socket.emit<{ user: string | null; data: unknown }>('whoami');

test('a logout reaches every socket on every server with reason "logout"', async () => {
  const client = await login(A, 'leaving');
  const [onA, onB] = [await open(A, client), await open(B, client.forOrigin(B.url))];
  await client.post('/logout');
  await waitFor(() => onA.destroys === 1 && onB.destroys === 1, { what: 'both sockets told' });
  expect([...onA.destroyEvents, ...onB.destroyEvents].map((e) => e.reason)).toEqual(['logout', 'logout']);
  await waitFor(() => onA.handlerDestroys.length === 1 && onB.handlerDestroys.length === 1, { what: 'the destroy handlers' });
  expect([...onA.handlerDestroys, ...onB.handlerDestroys]).toEqual([
    { server: 'A', reason: 'logout', session: null },
    { server: 'B', reason: 'logout', session: null },
  ]);
});

test('"log out my other devices" from a socket: the others end on every server with reason "revoked", and their cookies log nobody in', async () => {
  const devices = [await login(A, 'owner'), await login(B, 'owner'), await login(A, 'owner')];
  const sockets = await Promise.all(devices.flatMap((device) => [open(A, device.forOrigin(A.url)), open(B, device.forOrigin(B.url))]));
  type Listed = { ok: boolean; sessions: { id: string; current: boolean }[] };
  const before = await sockets[0].emit<Listed>('devices');
  expect(before.sessions.map((s) => s.id).sort()).toEqual(devices.map(sidOf).sort());
  expect(before.sessions.filter((s) => s.current).map((s) => s.id)).toEqual([sidOf(devices[0])]);

  expect(await sockets[0].emit('logout-others')).toEqual({ ok: true, n: 2 });
  await waitFor(() => sockets.slice(2).every((socket) => socket.destroys === 1), { what: 'the other devices\' sockets on both servers' });
  expect(sockets.slice(2).map((socket) => socket.destroyEvents[0].reason)).toEqual(['revoked', 'revoked', 'revoked', 'revoked']);
  expect(sockets.slice(0, 2).map((socket) => socket.destroys)).toEqual([0, 0]);
  for (const device of devices.slice(1)) expect((await device.get('/session')).body.data.user).toBeUndefined();
  expect((await devices[0].get('/session')).body.data.user).toBe('owner');
  const after = await sockets[1].emit<Listed>('devices');
  expect(after.sessions).toEqual([expect.objectContaining({ id: sidOf(devices[0]), current: true })]);
});

test('an expired session reaches every socket on every server with reason "expired", and its view ends', async () => {
  const client = await login(A, 'ttl-user', { maxAge: 2000 });
  const [onA, onB] = [await open(A, client), await open(B, client.forOrigin(B.url))];
  const sid = sidOf(client);
  const expiresAt = await expiryOf(sid);
  expect((await whoami(onA)).user).toBe('ttl-user');

  await waitFor(() => onA.destroys === 1 && onB.destroys === 1, { what: 'both sockets told of the expiry', timeout: 15_000 });
  expect(await admin.exists(`live_session:${sid}`)).toBe(0);
  for (const socket of [onA, onB]) {
    expect(socket.destroyEvents[0].reason).toBe('expired');
    expect(socket.destroyEvents[0].at).toBeGreaterThanOrEqual(expiresAt - 50); // never before Redis dropped it
    expect(await whoami(socket)).toEqual({ user: null, data: null });
  }
  await waitFor(() => onA.handlerDestroys.length + onB.handlerDestroys.length === 2, { what: 'the destroy handlers' });
  expect([...onA.handlerDestroys, ...onB.handlerDestroys].map((call) => call.reason)).toEqual(['expired', 'expired']);
});

test('a read on another server moves the expiry: the sockets are told only when the session really expires', async () => {
  const client = await login(A, 'extended', { maxAge: 2500 });
  const onA = await open(A, client);
  const sid = sidOf(client);
  const firstExpiry = await expiryOf(sid);
  // Halfway, a request on B (which has no socket of this session) reads it: the TTL moves, A is not told.
  await new Promise((resolve) => setTimeout(resolve, 1200));
  const { body } = await client.forOrigin(B.url).get('/session');
  expect(body.data.user).toBe('extended');
  const movedExpiry = await expiryOf(sid);
  expect(movedExpiry).toBeGreaterThan(firstExpiry + 500);

  await waitFor(() => onA.destroys === 1, { what: 'the socket told of the expiry', timeout: 15_000 });
  expect(onA.destroyEvents[0].reason).toBe('expired');
  expect(onA.destroyEvents[0].at).toBeGreaterThanOrEqual(movedExpiry - 50);
});

test('100 sessions expiring together: every socket is told, at a bounded cost in Redis commands', async () => {
  const count = 100;
  const clients = await Promise.all(Array.from({ length: count }, (_, i) => login(i % 2 ? A : B, `many-${i}`, { maxAge: 8000 })));
  const opened = await Promise.all(clients.map((client, i) => open(i % 2 ? B : A, client.forOrigin((i % 2 ? B : A).url))));
  const expiries = await Promise.all(clients.map((client) => expiryOf(sidOf(client))));
  const pttlBefore = await pttlCalls();

  await waitFor(() => opened.every((socket) => socket.destroys === 1), { what: 'every socket told of its expiry', timeout: 30_000 });
  const lateness = opened.map((socket, i) => socket.destroyEvents[0].at - expiries[i]).sort((a, b) => a - b);
  expect(opened.every((socket) => socket.destroyEvents[0].reason === 'expired')).toBe(true);
  expect(lateness[0]).toBeGreaterThanOrEqual(-50); // none before Redis dropped it
  const checks = (await pttlCalls()) - pttlBefore;
  // Each session has sockets on one server, which checks it once when it comes due (plus a
  // re-check when a check lands a moment early): the cost is bounded per session, not per second.
  expect(checks).toBeLessThanOrEqual(3 * count);
  const p = (q: number) => lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))];
  console.log(`EXPIRY ${count} sessions: lateness after the TTL passed p50 ${p(0.5)} ms, p99 ${p(0.99)} ms, max ${lateness.at(-1)} ms; ${checks} PTTL checks`);
});

test('a write through a socket that finds its session gone ends the view at once', async () => {
  const client = await login(A, 'vanished');
  const onA = await open(A, client);
  // The key disappears without a message (as an expiry does) long before its TTL.
  await admin.del(`live_session:${sidOf(client)}`);
  const ack = await onA.emit<{ ok: boolean; error?: string }>('put', { key: 'x', value: 1 });
  expect(ack).toEqual({ ok: false, error: 'ERR_LIVE_SESSION_NOT_FOUND' });
  await waitFor(() => onA.destroys === 1, { what: 'the socket told' });
  expect(onA.destroyEvents[0].reason).toBe('expired');
  expect(await whoami(onA)).toEqual({ user: null, data: null });
});

test('keepAlive: a socket that emits every 500 ms keeps a 2 s session alive; without it the session expires and the socket is told', async () => {
  const kept = await login(K, 'kept', { maxAge: 2000 });
  const keptIndexed = await login(KI, 'kept-indexed', { maxAge: 2000 });
  const lapsed = await login(A, 'lapsed', { maxAge: 2000 });
  const [onK, onKI, onA] = [await open(K, kept), await open(KI, keptIndexed), await open(A, lapsed)];
  const started = Date.now();
  while (Date.now() - started < 10_000) {
    await Promise.all([onK.emit('ping'), onKI.emit('ping'), onA.socket.connected && onA.destroys === 0 ? onA.emit('ping') : undefined]);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  expect([onK.destroys, onKI.destroys]).toEqual([0, 0]);
  expect((await whoami(onK)).user).toBe('kept');
  expect((await whoami(onKI)).user).toBe('kept-indexed');
  expect(await admin.exists(`live_session:${sidOf(kept)}`)).toBe(1);
  expect(await admin.exists(`live_session:${sidOf(keptIndexed)}`)).toBe(1);
  expect(onA.destroyEvents.map((e) => e.reason)).toEqual(['expired']);
  // The HTTP side agrees: the kept session still logs its cookie in.
  expect((await kept.get('/session')).body.data.user).toBe('kept');

  // Once the socket goes quiet, the kept session expires like any other.
  await waitFor(() => onK.destroys === 1, { what: 'the quiet session to expire', timeout: 15_000 });
  expect(onK.destroyEvents[0].reason).toBe('expired');
});

test('keepAlive never moves a session whose cookie fixes its expiry', async () => {
  // A session with an absolute expiry and no maxAge (written outside express-session), and a
  // browser holding its signed cookie.
  const sid = `fixed-${Date.now()}`;
  const expires = new Date(Date.now() + 3000).toISOString();
  const storeClient = new Redis(redis.url);
  try {
    const store = new LiveSessionStore({ client: storeClient });
    await store.set(sid, { cookie: { expires, originalMaxAge: null, httpOnly: true, path: '/' }, user: 'fixed' } as never);
  } finally {
    storeClient.disconnect();
  }
  const client = new CookieClient(K.url);
  const signature = createHmac('sha256', 'test secret').update(sid).digest('base64').replace(/=+$/, '');
  client.setCookie('connect.sid', encodeURIComponent(`s:${sid}.${signature}`));
  const onK = await open(K, client);
  const expiresAt = await expiryOf(sid);
  const seen: number[] = [];
  while (onK.destroys === 0 && Date.now() < expiresAt + 10_000) {
    await onK.emit('ping').catch(() => undefined);
    if ((await admin.exists(`live_session:${sid}`)) === 1) seen.push(await expiryOf(sid));
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  expect(onK.destroyEvents.map((e) => e.reason)).toEqual(['expired']);
  expect(seen.length).toBeGreaterThan(3);
  // The expiry Redis reports never moved (within the clock's ms rounding) while the socket pinged.
  expect(Math.max(...seen) - expiresAt).toBeLessThanOrEqual(20);
});

async function pttlCalls(): Promise<number> {
  const stats = await admin.info('commandstats');
  const match = /cmdstat_pttl:calls=(\d+)/.exec(stats);
  return match ? Number(match[1]) : 0;
}
