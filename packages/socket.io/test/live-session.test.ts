/**
 * One app server in this process, to reach inside it: maybeSubscribe's no-op cases, messages
 * out of order or malformed, and subscriptions that follow the rooms.
 */
import { startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import { CookieClient } from '@live-session/test-support';
import Redis from 'ioredis';
import type { Socket } from 'socket.io';
import { LiveSessionStore } from '@live-session/core';
import { type InProcessApp, RecordingSocket, sessionIdOfSocket, startInProcessApp } from './helpers';

let redis: TestRedis;
let publisher: Redis;
let app: InProcessApp;
let url: string;
let serverSockets: Socket[];

beforeAll(async () => {
  redis = await startRedis();
  publisher = new Redis(redis.url);
  app = await startInProcessApp({ redisUrl: redis.url });
  url = app.url;
  serverSockets = app.sockets;
});

afterAll(async () => {
  await app?.close();
  publisher?.disconnect();
  await redis?.close();
});

const sessionIdOf = sessionIdOfSocket;

async function loggedIn(user: string) {
  const client = new CookieClient(url);
  await client.post('/login', { user });
  const socket = await RecordingSocket.open(url, client.cookieHeader);
  await socket.until((s) => s.user === user);
  const serverSocket = await waitFor(() => serverSockets.find((s) => s.data.session?.user === user));
  const sid = sessionIdOf(serverSocket);
  return { client, socket, serverSocket, sid, channel: app.store.keyOf(sid) };
}

test('maybeSubscribe is a no-op that never throws on anything but a connected socket with a session id', async () => {
  const { socket, serverSocket } = await loggedIn('noop');
  const live = app.live;
  const cases: [unknown, unknown][] = [
    [undefined, undefined],
    [null, { id: 'x' }],
    [{}, { id: 'x' }],
    ['socket', 'session'],
    [serverSocket, {}],
    [serverSocket, { id: '' }],
    [serverSocket, { id: 42 }],
    [serverSocket, { id: 'not-its-own-session' }],
  ];
  for (const [target, session] of cases) {
    await expect(live.maybeSubscribe(target as Socket, session)).resolves.toBe(false);
  }
  // Its own session (the default, as express-session put it on the handshake request): fine.
  await expect(live.maybeSubscribe(serverSocket)).resolves.toBe(true);
  await expect(live.maybeSubscribe(serverSocket, null)).resolves.toBe(true);

  socket.close();
  await waitFor(() => serverSocket.disconnected);
  await expect(live.maybeSubscribe(serverSocket)).resolves.toBe(false);
  expect(live.sessionOf(serverSocket)).toBeNull();
});

test('a session the store does not have (a handshake without login) is not followed', async () => {
  const anonymous = await RecordingSocket.open(url, undefined);
  try {
    const serverSocket = await waitFor(() => serverSockets.find((s) => s.handshake.headers.cookie === undefined && s.connected));
    expect(app.live.sessionOf(serverSocket)).toBeNull();
    expect(app.live.channels).not.toContain(app.store.keyOf(sessionIdOf(serverSocket)));
    expect(anonymous.updates).toEqual([]);
  } finally {
    anonymous.close();
  }
});

test('a gap in versions reloads the session instead of applying a message out of order', async () => {
  const { client, socket, serverSocket, sid, channel } = await loggedIn('gap');
  try {
    const { version } = (await app.store.getSessionState(sid))!;
    // A message from the future (as if the ones between were missed): its content must not be
    // applied; the session is read again instead.
    await publisher.publish(channel, JSON.stringify({ format: 1, event: 'change', version: version + 5, set: { injected: true }, unset: [] }));
    // A stale message (an old version) is ignored as well.
    await publisher.publish(channel, JSON.stringify({ format: 1, event: 'change', version: 1, set: { stale: true }, unset: [] }));
    // Malformed messages are dropped without harm.
    await publisher.publish(channel, 'not json');
    await publisher.publish(channel, JSON.stringify({ format: 99, event: 'change', version: version + 1, set: {}, unset: [] }));

    await client.post('/set', { key: 'cart', value: ['real'] });
    await socket.until((s) => JSON.stringify(s.cart) === '["real"]');
    const view = app.live.sessionOf(serverSocket)!;
    expect(view).not.toHaveProperty('injected');
    expect(view).not.toHaveProperty('stale');
    const stored = (await app.store.getSessionState(sid))!;
    const { cookie: _cookie, ...data } = stored.session as unknown as Record<string, unknown>;
    expect(view).toEqual(data);
    expect(socket.updates.some((update) => 'injected' in update || 'stale' in update)).toBe(false);
  } finally {
    socket.close();
  }
});

test('the process subscribes when the first socket of a session joins and unsubscribes after the last leaves', async () => {
  const first = await loggedIn('rooms');
  const second = await RecordingSocket.open(url, first.client.cookieHeader);
  await second.until((s) => s.user === 'rooms');
  const numsub = async () => Number((await publisher.pubsub('NUMSUB', first.channel))[1]);

  expect(await numsub()).toBe(1); // one subscriber connection for both sockets
  expect(app.live.channels.filter((c) => c === first.channel)).toHaveLength(1);
  first.socket.close();
  await waitFor(() => first.serverSocket.disconnected);
  expect(await numsub()).toBe(1);
  second.close();
  await waitFor(async () => (await numsub()) === 0, { what: 'the channel to be unsubscribed' });
  expect(app.live.channels).not.toContain(first.channel);
});

test('putSession through a socket updates that socket view before it resolves, and handlers that throw are contained', async () => {
  const { socket, serverSocket, sid } = await loggedIn('put');
  const errors: Error[] = [];
  const onError = (err: Error) => errors.push(err);
  const throwing = () => {
    throw new Error('handler bug');
  };
  app.live.on('error', onError);
  app.live.on('update', throwing);
  try {
    const updated = await app.live.putSession(serverSocket, 'theme', 'dark');
    expect(updated).toMatchObject({ user: 'put', theme: 'dark' });
    expect(serverSocket.data.session).toMatchObject({ theme: 'dark' });
    await socket.until((s) => s.theme === 'dark');
    expect(errors.map((e) => e.message)).toContain('handler bug');
    // The session form: any object with the id.
    await app.live.updateSession({ id: sid }, 'count', (n: number | undefined) => (n ?? 0) + 1);
    await socket.until((s) => s.count === 1);
  } finally {
    app.live.off('update', throwing);
    app.live.off('error', onError);
    socket.close();
  }
});

test('disconnectOnDestroy: a logout disconnects the session\'s sockets after telling them', async () => {
  const strict = await startInProcessApp({ redisUrl: redis.url, disconnectOnDestroy: true });
  const strictUrl = strict.url;
  try {
    const client = new CookieClient(strictUrl);
    await client.post('/login', { user: 'strict' });
    const socket = await RecordingSocket.open(strictUrl, client.cookieHeader);
    await socket.until((s) => s.user === 'strict');
    let reason: string | undefined;
    socket.socket.on('disconnect', (why) => (reason = why));

    await client.post('/logout');

    await waitFor(() => reason, { what: 'the server to disconnect the socket' });
    expect(reason).toBe('io server disconnect');
    expect(socket.destroys).toBe(1); // the destroy event came first
  } finally {
    await strict.close();
  }
});

test('live.handler: a socket without a session gets its error as an ack, or as an error event, and the server lives on', async () => {
  const anonymous = await RecordingSocket.open(url, undefined);
  const errors: Error[] = [];
  const onError = (err: Error) => errors.push(err);
  app.live.on('error', onError);
  try {
    const ack = await anonymous.emit<{ ok: boolean; error?: { code: string; message: string } }>('safe-append', 'apple');
    expect(ack).toEqual({ ok: false, error: { code: 'ERR_LIVE_SESSION_NOT_FOUND', message: expect.stringContaining('does not exist') } });
    // Without an acknowledgement the failure goes to the error event, never to an unhandled rejection.
    anonymous.socket.emit('safe-append', 'pear');
    await waitFor(() => errors.length === 1, { what: 'the error event' });
    expect((errors[0] as Error & { code?: string }).code).toBe('ERR_LIVE_SESSION_NOT_FOUND');
    // A logged-in socket gets the value.
    const { socket } = await loggedIn('handled');
    const ok = await socket.emit<{ ok: boolean }>('safe-append', 'plum');
    expect(ok).toEqual({ ok: true }); // never the session the write resolved to: it holds a secret
    await socket.until((s) => JSON.stringify(s.cart) === '["plum"]');
    socket.close();
  } finally {
    app.live.off('error', onError);
    anonymous.close();
  }
});

test('a change published as a reload message (over maxMessageBytes) reaches the sockets as the new session', async () => {
  const { socket, serverSocket, sid, channel } = await loggedIn('large');
  const recorder = new Redis(redis.url);
  const seen: string[] = [];
  recorder.on('message', (_channel: string, raw: string) => seen.push(raw));
  await recorder.subscribe(channel);
  // Another writer whose every change is too large to publish: only `{"event":"reload"}` goes out.
  const writerClient = new Redis(redis.url);
  const writer = new LiveSessionStore({ client: writerClient, maxMessageBytes: 0 });
  try {
    await writer.putSession(sid, 'cart', ['x'.repeat(1000)]);
    await socket.until((s) => Array.isArray(s.cart) && (s.cart as string[])[0].length === 1000);
    expect(app.live.sessionOf(serverSocket)).toMatchObject({ user: 'large', cart: ['x'.repeat(1000)] });
    await waitFor(() => seen.length === 1, { what: 'the reload message' });
    expect(JSON.parse(seen[0])).toEqual({ format: 1, event: 'reload', version: expect.any(Number) });
  } finally {
    recorder.disconnect();
    writerClient.disconnect();
    socket.close();
  }
});
