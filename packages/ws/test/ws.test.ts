/**
 * Plain `ws` WebSockets across servers: app servers in separate processes share one private Redis;
 * real `ws` clients carry the cookie of a real express-session login. Changes both ways, client
 * writes (atomic, answered, never thrown), the end of a session with its reason and close code,
 * and what an upgrade refuses.
 */
import { signedCookie, startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { CLOSE_CODES } from '../src';
import { type AppServer, login, RecordingWs, SECRET, sidOf, startServer } from './helpers';

let redis: TestRedis;
let admin: Redis;
let A: AppServer;
let B: AppServer;
const sockets: RecordingWs[] = [];

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  [A, B] = await Promise.all([startServer(redis.url, { NAME: 'A' }), startServer(redis.url, { NAME: 'B' })]);
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.close();
});

afterAll(async () => {
  await Promise.all([A?.stop(), B?.stop()]);
  admin?.disconnect();
  await redis?.close();
});

async function open(server: AppServer, cookie: string | undefined, headers: Record<string, string> = {}): Promise<RecordingWs> {
  const socket = await RecordingWs.open(server.wsUrl, cookie, headers);
  sockets.push(socket);
  return socket;
}

test('an HTTP write on server A reaches a WebSocket on server B, as the app exposes it, in version order', async () => {
  const alice = await login(A, 'alice');
  const socket = await open(B, alice.cookieHeader);
  expect(socket.opened).toBe(true);
  await socket.until((s) => s.user === 'alice', 'the current view at connect');

  for (let i = 1; i <= 30; i++) await alice.post('/set', { key: 'n', value: i });
  await socket.until((s) => s.n === 30);

  const updates = socket.of('update');
  const versions = updates.map((m) => m.version as number);
  expect(versions.slice(1)).toEqual(versions.slice(1).map((_, i) => versions[1] + i));
  expect(updates.slice(1).map((m) => (m.data as { n: number }).n)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  expect(updates.every((m) => !('secret' in (m.data as object)) && !('cookie' in (m.data as object)))).toBe(true);
});

test('a client write on server B is atomic, answered with its version, seen by HTTP on A and by every socket', async () => {
  const bob = await login(A, 'bob');
  const onA = await open(A, bob.cookieHeader);
  const onB = await open(B, bob.cookieHeader);
  await Promise.all([onA, onB].map((s) => s.until((v) => v.user === 'bob')));

  // 40 concurrent appends, half from each server: all kept.
  const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? onA : onB).write('cart', `item-${i}`)));
  expect(replies.every((r) => r.ok === true && typeof r.version === 'number')).toBe(true);
  expect(new Set(replies.map((r) => r.version)).size).toBe(40);
  const { body } = await bob.get('/session');
  expect([...body.data.cart].sort()).toEqual(Array.from({ length: 40 }, (_, i) => `item-${i}`).sort());
  for (const socket of [onA, onB]) await socket.until((s) => (s.cart as string[] | undefined)?.length === 40);
  expect(await onB.write('theme', 'dark')).toEqual({ type: 'reply', id: 21, ok: true, version: expect.any(Number) });
  await onA.until((s) => s.theme === 'dark');
});

test('writes that fail are answered with a code, never thrown: the connection and the server go on', async () => {
  const carol = await login(A, 'carol');
  const socket = await open(B, carol.cookieHeader);
  await socket.until((s) => s.user === 'carol');

  expect(await socket.write('user', 'admin')).toMatchObject({ ok: false, error: { code: 'ERR_LIVE_SESSION_NOT_WRITABLE' } });
  expect(await socket.write('secret', 'x')).toMatchObject({ ok: false, error: { code: 'ERR_LIVE_SESSION_NOT_WRITABLE' } });
  expect(await socket.write('__proto__', 'x')).toMatchObject({ ok: false, error: { code: 'ERR_LIVE_SESSION_NOT_WRITABLE' } });
  expect(await socket.write(42, 'x')).toMatchObject({ ok: false, error: { code: 'ERR_LIVE_SESSION_NOT_WRITABLE' } });
  expect(await socket.write('cart', { not: 'a string' })).toEqual({ type: 'reply', id: 5, ok: false, error: { code: 'ERR_BAD_ITEM', message: 'an item is a string' } });
  for (const junk of ['not json', '{"type":"write"', '{"type":"write","id":{}}', '[]', 'null']) socket.ws.send(junk);
  socket.ws.send(Buffer.from('binary'), { binary: true });
  // The reply to a write without a usable id carries id null; the rest were not ours to answer.
  await waitFor(() => socket.of('reply').find((m) => m.id === null), { what: 'the reply to the write without an id' });
  expect((await socket.write('cart', 'kept')).ok).toBe(true);
  const { body } = await carol.get('/session');
  expect(body.data).toMatchObject({ user: 'carol', cart: ['kept'] });
  expect(body.data.secret).toBe('csrf-carol');
  expect(socket.closed).toBeUndefined();
});

test('the app\'s own messages beside the live ones: live.sessionOf and live.updateSession', async () => {
  const dave = await login(A, 'dave');
  const socket = await open(B, dave.cookieHeader);
  await socket.until((s) => s.user === 'dave');
  socket.ws.send('whoami');
  socket.ws.send('bump');
  socket.ws.send('bump');
  await waitFor(() => socket.of('bumped').length === 2, { what: 'two bumps' });
  expect(socket.of('bumped').map((m) => m.bumps)).toEqual([1, 2]);
  expect(socket.of('whoami')[0].session).toMatchObject({ user: 'dave', secret: 'csrf-dave' }); // the server sees it all
  await socket.until((s) => s.bumps === 2);
});

test('a logout on A ends the WebSockets on A and B: an end message, close code 4001 "logout"; the cookie then gets 401', async () => {
  const erin = await login(A, 'erin');
  const onA = await open(A, erin.cookieHeader);
  const onB = await open(B, erin.cookieHeader);
  await Promise.all([onA, onB].map((s) => s.until((v) => v.user === 'erin')));
  const cookie = erin.cookieHeader;

  await erin.post('/logout');

  for (const socket of [onA, onB]) {
    await waitFor(() => socket.closed, { what: 'the close' });
    expect(socket.closed).toEqual({ code: CLOSE_CODES.logout, reason: 'logout' });
    expect(socket.messages.at(-1)).toEqual({ type: 'end', reason: 'logout' });
  }
  for (const server of [A, B]) expect((await open(server, cookie)).refused).toBe(401);
});

test('revoked (4003) and expired (4002) reach every server with their reason', async () => {
  const phone = await login(A, 'frank');
  const laptop = await login(B, 'frank');
  const revoked = [await open(A, phone.cookieHeader), await open(B, phone.cookieHeader)];
  const kept = await open(A, laptop.cookieHeader);
  await Promise.all([...revoked, kept].map((s) => s.until((v) => v.user === 'frank')));
  expect((await laptop.post('/logout-others')).body).toEqual({ ok: true, n: 1 });
  for (const socket of revoked) {
    await waitFor(() => socket.closed, { what: 'the revoked socket to close' });
    expect(socket.closed).toEqual({ code: CLOSE_CODES.revoked, reason: 'revoked' });
    expect(socket.of('end')).toEqual([{ type: 'end', reason: 'revoked' }]);
  }
  expect(kept.closed).toBeUndefined();

  const gina = await login(A, 'gina', { maxAge: 1500 });
  const expiring = [await open(A, gina.cookieHeader), await open(B, gina.cookieHeader)];
  await waitFor(() => expiring.every((s) => s.closed), { what: 'both told of the expiry', timeout: 15_000 });
  for (const socket of expiring) expect(socket.closed).toEqual({ code: CLOSE_CODES.expired, reason: 'expired' });
  expect(await admin.exists(`live_session:${sidOf(gina)}`)).toBe(0);
});

test('a write to a session that vanished without a message is refused (nothing re-created) and ends the connection as expired', async () => {
  const hank = await login(A, 'hank');
  const socket = await open(B, hank.cookieHeader);
  await socket.until((s) => s.user === 'hank');
  await admin.del(`live_session:${sidOf(hank)}`); // behind every server's back: no message

  expect(await socket.write('cart', 'too late')).toMatchObject({ ok: false, error: { code: 'ERR_LIVE_SESSION_NOT_FOUND' } });
  await waitFor(() => socket.closed, { what: 'the close' });
  expect(socket.closed).toEqual({ code: CLOSE_CODES.expired, reason: 'expired' });
  expect(await admin.exists(`live_session:${sidOf(hank)}`)).toBe(0);
});

test('refused before the handshake: no cookie, unsigned, forged, never stored (401); a page of another site (403)', async () => {
  const ivy = await login(A, 'ivy');
  const sid = sidOf(ivy);
  expect(signedCookie(sid, SECRET)).toBe(ivy.cookieHeader);
  for (const cookie of [undefined, `connect.sid=${sid}`, signedCookie(sid, 'not the secret'), signedCookie('nosuchsession', SECRET)]) {
    const socket = await open(B, cookie);
    expect({ cookie, refused: socket.refused, opened: socket.opened }).toEqual({ cookie, refused: 401, opened: false });
  }
  const host = new URL(B.url).host;
  expect((await open(B, ivy.cookieHeader, { origin: 'https://evil.example' })).refused).toBe(403);
  const sameSite = await open(B, ivy.cookieHeader, { origin: `http://${host}` });
  await sameSite.until((s) => s.user === 'ivy');
});

test('a change whose message was lost reaches the WebSocket once the subscriber connection is back', async () => {
  const jack = await login(A, 'jack');
  const socket = await open(B, jack.cookieHeader);
  await socket.until((s) => s.user === 'jack');
  const key = `live_session:${sidOf(jack)}`;
  const version = Number(await admin.hget(key, '$v'));
  await admin.hset(key, 'silent', '"lost message"', '$v', String(version + 1));
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
  await socket.until((s) => s.silent === 'lost message', 'the change whose message was lost');
  expect(socket.of('update').at(-1)!.version).toBe(version + 1);
  expect(socket.closed).toBeUndefined();
});
