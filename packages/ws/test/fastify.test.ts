/**
 * @live-session/ws in a Fastify app, as the README shows it: a noServer WebSocketServer, the
 * upgrades of Fastify's own `http` server passed to live.handleUpgrade, the session id from the
 * signed cookie (express-session's format, which @live-session/fastify writes too).
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { LiveSessionStore } from '@live-session/core';
import { startRedis, storeSignedSession, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { WebSocketServer } from 'ws';
import { CLOSE_CODES, createLiveWs, type LiveWs } from '../src';
import { RecordingWs } from './helpers';

const SECRET = 'fastify secret';
let redis: TestRedis;
let client: Redis;
let store: LiveSessionStore;
let app: FastifyInstance;
let live: LiveWs;
let url: string;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  store = new LiveSessionStore({ client });
  const wss = new WebSocketServer({ noServer: true });
  live = createLiveWs(wss, {
    store,
    secret: SECRET,
    name: 'sid',
    expose: (s) => ({ cart: s.cart ?? [] }),
    writable: { cart: (item, cart) => [...((cart as unknown[] | undefined) ?? []), String(item)] },
  });
  app = Fastify();
  app.server.on('upgrade', (req, socket, head) => {
    if (req.url === '/live') live.handleUpgrade(req, socket, head);
    else socket.destroy();
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/live`;
});

afterAll(async () => {
  await live?.close();
  await app?.close();
  await store?.close();
  client?.disconnect();
  await redis?.close();
});

/** A stored session (as a Fastify session plugin, or express-session, stores one) and its cookie signed with `secret`. */
const session = (data: Record<string, unknown>, secret = SECRET) => storeSignedSession(store, data, { secret, name: 'sid' });

test('a WebSocket on Fastify\'s server follows the session of its signed cookie: changes both ways, then the end', async () => {
  const { sid, cookie } = await session({ cart: ['tea'], user: 'ada' });
  const socket = await RecordingWs.open(url, cookie);
  await socket.until((s) => JSON.stringify(s) === '{"cart":["tea"]}', 'the exposed view (no user)');

  expect(await socket.write('cart', 'milk')).toMatchObject({ ok: true });
  expect(((await store.getSession(sid)) as Record<string, unknown> | null)?.cart).toEqual(['tea', 'milk']);
  await store.putSession(sid, 'cart', []);
  await socket.until((s) => (s.cart as string[]).length === 0);

  await store.destroy(sid);
  await waitFor(() => socket.closed, { what: 'the close' });
  expect(socket.closed).toEqual({ code: CLOSE_CODES.logout, reason: 'logout' });
  expect((await RecordingWs.open(url, cookie)).refused).toBe(401);
  const forged = (await session({}, 'not our secret')).cookie;
  expect((await RecordingWs.open(url, forged)).refused).toBe(401);
  await waitFor(() => live.size === 0 && live.channels.length === 0, { what: 'nothing followed' });
});
