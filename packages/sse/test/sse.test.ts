/**
 * Server-Sent Events across servers: two app servers in separate processes share one private Redis;
 * real HTTP event streams (parsed as an EventSource parses them) carry the cookie of a real
 * express-session login. Changes, the end of a session with its reason, what a stream refuses, and
 * resuming with Last-Event-ID.
 */
import { signedCookie, startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { type AppServer, login, SECRET, sidOf, startServer, StreamClient } from './helpers';

let redis: TestRedis;
let admin: Redis;
let A: AppServer;
let B: AppServer;
let C: AppServer; // the stream route without express-session: the id from the signed cookie
const streams: StreamClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  [A, B, C] = await Promise.all([startServer(redis.url, { NAME: 'A' }), startServer(redis.url, { NAME: 'B' }), startServer(redis.url, { NAME: 'C', COOKIE_ONLY: '1' })]);
});

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop(), C?.stop()]);
  admin?.disconnect();
  await redis?.close();
});

async function open(server: AppServer, cookie: string | undefined, lastEventId?: string): Promise<StreamClient> {
  const stream = await StreamClient.open(`${server.url}/live`, cookie, lastEventId);
  streams.push(stream);
  return stream;
}

const versionOf = (id: string | undefined) => Number(id?.split('.')[0]);

test('a write on server A reaches a stream on server B, as the app exposes it, in version order', async () => {
  const alice = await login(A, 'alice');
  const stream = await open(B, alice.cookieHeader);
  expect(stream.status).toBe(200);
  expect(stream.headers['content-type']).toBe('text/event-stream; charset=utf-8');
  expect(stream.headers['cache-control']).toBe('no-cache, no-transform');
  await stream.until((s) => s.user === 'alice', 'the current view at connect');

  for (let i = 1; i <= 30; i++) await alice.post('/set', { key: 'n', value: i });
  await stream.until((s) => s.n === 30, 'the 30th write');

  const updates = stream.of('update');
  const versions = updates.map((e) => versionOf(e.id));
  expect(versions).toEqual([...versions].sort((x, y) => x - y));
  expect(new Set(versions).size).toBe(versions.length);
  expect(stream.updates().slice(1).map((s) => s.n)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  // The secret is in the session but not exposed; the cookie is never part of a view.
  expect(stream.updates().every((s) => !('secret' in s) && !('cookie' in s))).toBe(true);
  const { body } = await alice.get('/session');
  expect(body.data.secret).toBe('csrf-alice');
});

test('a change the app does not expose moves the last event id without firing an event', async () => {
  const bob = await login(A, 'bob');
  const stream = await open(B, bob.cookieHeader);
  await stream.until((s) => s.user === 'bob');
  const before = stream.of('update').length;
  const version = versionOf(stream.lastEventId);

  await bob.post('/set', { key: 'secret', value: 'rotated' }); // in the session, not exposed

  await waitFor(() => versionOf(stream.lastEventId) === version + 1, { what: 'the bare id line' });
  expect(stream.of('update').length).toBe(before);
  expect(stream.events.at(-1)).toEqual({ event: '', id: stream.lastEventId, data: '' });
});

test('Last-Event-ID: a stream resumed at the current version gets nothing it has; behind, or of another session, the current view', async () => {
  const carol = await login(A, 'carol');
  const first = await open(B, carol.cookieHeader);
  await first.until((s) => s.user === 'carol');
  const lastId = first.lastEventId!;
  first.close();

  // Same version: nothing is sent, the next change is.
  const resumed = await open(A, carol.cookieHeader, lastId);
  expect(resumed.status).toBe(200);
  await carol.post('/set', { key: 'cart', value: ['pear'] });
  await resumed.until((s) => JSON.stringify(s.cart) === '["pear"]');
  expect(resumed.of('update')).toHaveLength(1);
  expect(versionOf(resumed.of('update')[0].id)).toBe(versionOf(lastId) + 1);

  // Behind: the current view, once.
  const behind = await open(B, carol.cookieHeader, lastId);
  await behind.until((s) => JSON.stringify(s.cart) === '["pear"]');
  expect(behind.of('update')).toHaveLength(1);

  // The id of another session (a login elsewhere changed the cookie meanwhile), even at the same version: the current view.
  const dave = await login(A, 'dave');
  const daveId = (await open(B, dave.cookieHeader)).lastEventId!;
  const [version] = daveId.split('.');
  const otherTag = `${version}.${lastId.split('.')[1]}`;
  const mixed = await open(B, dave.cookieHeader, otherTag);
  await mixed.until((s) => s.user === 'dave');
  expect(mixed.of('update')).toHaveLength(1);
});

test('a logout on server A ends the streams on A and B with reason "logout"; a reconnect is answered 204', async () => {
  const erin = await login(A, 'erin');
  const onA = await open(A, erin.cookieHeader);
  const onB = await open(B, erin.cookieHeader);
  const onC = await open(C, erin.cookieHeader);
  await Promise.all([onA, onB, onC].map((s) => s.until((v) => v.user === 'erin')));
  const cookie = erin.cookieHeader;

  await erin.post('/logout');

  for (const stream of [onA, onB, onC]) {
    await waitFor(() => stream.ended, { what: 'the stream to close' });
    expect(stream.of('end').map((e) => JSON.parse(e.data))).toEqual([{ reason: 'logout' }]);
    expect(stream.events.at(-1)!.event).toBe('end');
  }
  // The browser's reconnect, with the destroyed session's cookie: 204 (an EventSource stops for good).
  for (const server of [A, B, C]) {
    const again = await open(server, cookie, onB.lastEventId);
    expect(again.status).toBe(204);
    expect(again.events).toEqual([]);
  }
});

test('"log out my other devices" ends the other sessions\' streams with reason "revoked", on every server', async () => {
  const devices = [await login(A, 'frank'), await login(B, 'frank')];
  const kept = await open(B, devices[0].cookieHeader);
  const revoked = [await open(A, devices[1].cookieHeader), await open(B, devices[1].cookieHeader)];
  await Promise.all([kept, ...revoked].map((s) => s.until((v) => v.user === 'frank')));

  expect((await devices[0].post('/logout-others')).body).toEqual({ ok: true, n: 1 });

  for (const stream of revoked) {
    await waitFor(() => stream.ended, { what: 'the revoked stream to close' });
    expect(stream.of('end').map((e) => JSON.parse(e.data))).toEqual([{ reason: 'revoked' }]);
  }
  expect(kept.ended).toBe(false);
  expect(kept.of('end')).toEqual([]);
  expect((await open(A, devices[1].cookieHeader)).status).toBe(204);
});

test('an expired session ends its streams on every server with reason "expired"', async () => {
  const gina = await login(A, 'gina', { maxAge: 1500 });
  const onA = await open(A, gina.cookieHeader);
  const onB = await open(B, gina.cookieHeader);
  await Promise.all([onA, onB].map((s) => s.until((v) => v.user === 'gina')));

  await waitFor(() => onA.ended && onB.ended, { what: 'both streams told of the expiry', timeout: 15_000 });
  expect(await admin.exists(`live_session:${sidOf(gina)}`)).toBe(0);
  for (const stream of [onA, onB]) expect(stream.of('end').map((e) => JSON.parse(e.data))).toEqual([{ reason: 'expired' }]);
});

test('refused with 204, nothing followed: no cookie, an unsigned id, a forged signature, a session that was never stored', async () => {
  const hank = await login(A, 'hank');
  const sid = sidOf(hank);
  expect(signedCookie(sid, SECRET)).toBe(hank.cookieHeader); // the test signs as express-session does

  for (const server of [A, C]) {
    for (const cookie of [undefined, `connect.sid=${sid}`, signedCookie(sid, 'not the secret'), signedCookie('nosuchsession', SECRET), 'connect.sid=%E0%A4%A']) {
      const stream = await open(server, cookie);
      expect({ cookie, status: stream.status }).toEqual({ cookie, status: 204 });
    }
    const accepted = await open(server, hank.cookieHeader);
    await accepted.until((s) => s.user === 'hank');
  }
  // Nothing is left followed by the refused requests (only hank's own streams, closed here, were).
  for (const stream of streams.splice(0)) stream.close();
  for (const server of [A, C]) {
    await waitFor(async () => ((await (await fetch(`${server.url}/debug/state`)).json()) as { channels: string[] }).channels.length === 0, { what: `${server.url} to follow nothing` });
  }
});

test('heartbeats keep an idle stream open', async () => {
  const H = await startServer(redis.url, { NAME: 'H', HEARTBEAT: '100' });
  try {
    const ivy = await login(H, 'ivy');
    const stream = await open(H, ivy.cookieHeader);
    await waitFor(() => stream.comments >= 3, { what: 'three heartbeats' });
    expect(stream.ended).toBe(false);
    stream.close();
  } finally {
    await H.stop();
  }
});

test('a change whose message was lost reaches the stream once the subscriber connection is back', async () => {
  const jack = await login(A, 'jack');
  const stream = await open(B, jack.cookieHeader);
  await stream.until((s) => s.user === 'jack');
  // Written with its version but never published (its message lost), then every subscriber connection cut.
  const key = `live_session:${sidOf(jack)}`;
  const version = Number(await admin.hget(key, '$v'));
  await admin.hset(key, 'silent', '"lost message"', '$v', String(version + 1));
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  await stream.until((s) => s.silent === 'lost message', 'the change whose message was lost');
  expect(versionOf(stream.lastEventId)).toBe(version + 1);
  expect(stream.ended).toBe(false);
});
