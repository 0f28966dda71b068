/**
 * Live updates in a Fastify app: socket.io attached to Fastify's server, its handshakes given the
 * session by express-session's middleware over the same store and secret (socket.io's standard
 * `io.engine.use`), HTTP routes by this plugin. A change or a logout made by a Fastify route reaches
 * the session's sockets, because both read the one signed cookie.
 */
import type { LiveSessionStore } from '@live-session/core';
import { createLiveSession, type LiveSession } from '@live-session/socket.io';
import { CookieClient, startRedis, type TestClient, type TestRedis, waitFor } from '@live-session/test-support';
import session from 'express-session';
import Fastify, { type FastifyInstance } from 'fastify';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { fastifyLiveSession } from '../src';
import { newStore, Resources, SECRET } from './helpers';

declare module 'express-session' {
  interface SessionData {
    cart: string[];
  }
}

const resources = new Resources();
let redis: TestRedis;
let client: TestClient;
let store: LiveSessionStore;
let app: FastifyInstance;
let live: LiveSession;
let url: string;

beforeAll(async () => {
  redis = resources.add(await startRedis(), (r) => r.close());
  client = await resources.client('ioredis', redis);
  store = newStore(client, { prefix: 'fastify-socket.io:' });
  app = Fastify();
  await app.register(fastifyLiveSession, { store, secret: SECRET });
  app.post<{ Params: { item: string } }>('/cart/:item', async (request) => {
    request.session.cart = [...(request.session.cart ?? []), request.params.item];
    return { cart: request.session.cart };
  });
  app.post('/logout', async (request) => {
    await request.session.destroy();
    return { ok: true };
  });
  const io = new Server(app.server);
  io.engine.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false }));
  live = createLiveSession(io, { store, expose: (s) => ({ cart: s.cart ?? [] }) });
  io.use(live.middleware);
  url = await app.listen({ port: 0, host: '127.0.0.1' });
  resources.add(io, async (server) => {
    await live.close();
    await server.close();
  });
});
afterAll(() => resources.closeAll());

async function open(cookie: string): Promise<{ socket: ClientSocket; updates: unknown[]; ends: unknown[] }> {
  const socket = connect(url, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie } });
  resources.add(socket, (s) => s.disconnect());
  const updates: unknown[] = [];
  const ends: unknown[] = [];
  socket.on('live_session:update', (view: unknown) => updates.push(view));
  socket.on('live_session:destroy', (reason: unknown) => ends.push(reason));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { socket, updates, ends };
}

it('a change made by a Fastify route reaches the session\'s socket, and so does the logout', async () => {
  const browser = new CookieClient(url);
  await browser.post('/cart/apple');
  const tab = await open(browser.cookieHeader);
  await waitFor(() => tab.updates.length === 1, { what: 'the socket to join its session' });
  expect(tab.updates[0]).toEqual({ cart: ['apple'] });

  await browser.post('/cart/pear');
  await waitFor(() => tab.updates.length === 2, { what: 'the change to reach the socket' });
  expect(tab.updates[1]).toEqual({ cart: ['apple', 'pear'] });

  await browser.post('/logout');
  await waitFor(() => tab.ends.length === 1, { what: 'the logout to reach the socket' });
  expect(tab.ends[0]).toEqual({ reason: 'logout' });
});

