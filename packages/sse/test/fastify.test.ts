/**
 * The SSE handler in a Fastify app, as the README shows it: `reply.hijack()`, then the handler on
 * Fastify's raw request and response; the session id from the signed cookie (express-session's
 * format, which @live-session/fastify writes too), checked with the same secret.
 */
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { LiveSessionStore } from '@live-session/core';
import { startRedis, storeSignedSession, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { createLiveSse, type LiveSse } from '../src';
import { StreamClient } from './helpers';

const SECRET = 'fastify secret';
let redis: TestRedis;
let client: Redis;
let store: LiveSessionStore;
let app: FastifyInstance;
let live: LiveSse;
let url: string;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  store = new LiveSessionStore({ client });
  live = createLiveSse({ store, secret: [SECRET, 'an older secret'], name: 'sid', expose: (s) => ({ cart: s.cart ?? [] }) });
  app = Fastify();
  app.get('/live', (request, reply) => {
    reply.hijack(); // the handler writes the response itself
    live.stream(request.raw, reply.raw);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/live`;
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

test('a Fastify route streams the session of the signed cookie: changes, then the end with its reason', async () => {
  const { sid, cookie } = await session({ cart: ['tea'], user: 'ada' });
  const stream = await StreamClient.open(url, cookie);
  expect(stream.status).toBe(200);
  await stream.until((s) => JSON.stringify(s) === '{"cart":["tea"]}', 'the exposed view (no user)');

  await store.putSession(sid, 'cart', ['tea', 'milk']);
  await stream.until((s) => (s.cart as string[]).length === 2);

  await store.destroy(sid);
  await waitFor(() => stream.ended, { what: 'the stream to close' });
  expect(stream.of('end').map((e) => JSON.parse(e.data))).toEqual([{ reason: 'logout' }]);
  expect((await StreamClient.open(url, cookie)).status).toBe(204);
  stream.close();
});

test('every secret verifies (a rotated one too); another cookie name, a forged signature or no cookie get 204', async () => {
  const { cookie: older } = await session({ cart: [] }, 'an older secret');
  const rotated = await StreamClient.open(url, older);
  expect(rotated.status).toBe(200);
  rotated.close();
  const { cookie } = await session({ cart: [] });
  const forged = (await session({ cart: [] }, 'not a secret of ours')).cookie;
  for (const refused of [forged, cookie.replace(/^sid=/, 'connect.sid='), undefined]) {
    const stream = await StreamClient.open(url, refused);
    expect({ refused, status: stream.status }).toEqual({ refused, status: 204 });
  }
  await waitFor(() => live.size === 0 && live.channels.length === 0, { what: 'nothing followed' });
});
