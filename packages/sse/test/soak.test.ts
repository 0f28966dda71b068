/**
 * What many and slow clients cost a server: 5,000 stream connect/disconnect cycles leave nothing
 * subscribed and the heap flat; a client that stops reading neither holds back the other streams
 * nor makes the server buffer what it does not take. One app server in its own process, a private Redis.
 */
import { connect as tcp, type Socket } from 'node:net';
import { startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { type AppServer, login, startServer, StreamClient } from './helpers';

let redis: TestRedis;
let admin: Redis;
let S: AppServer;

interface State {
  streams: number;
  followed: number;
  channels: string[];
  buffered: number[];
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  errors: string[];
}
const state = async (gc = false): Promise<State> => (await fetch(`${S.url}/debug/state${gc ? '?gc=1' : ''}`)).json() as Promise<State>;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  S = await startServer(redis.url, { NAME: 'S', HEARTBEAT: '2000' });
});

afterAll(async () => {
  await S?.stop();
  admin?.disconnect();
  await redis?.close();
});

test('5,000 connect/disconnect cycles leave 0 subscriptions and a flat heap', async () => {
  const clients = await Promise.all(Array.from({ length: 50 }, (_, i) => login(S, `soak-${i}`)));
  let cycle = 0;
  /** `count` cycles, 25 at a time: each stream is followed (its first update arrived) before it closes. */
  async function cycles(count: number): Promise<void> {
    const end = cycle + count;
    await Promise.all(
      Array.from({ length: 25 }, async () => {
        while (cycle < end) {
          const client = clients[cycle++ % clients.length];
          const stream = await StreamClient.open(`${S.url}/live`, client.cookieHeader);
          await stream.until((s) => typeof s.user === 'string');
          stream.close();
        }
      }),
    );
  }
  await cycles(2_000); // warm-up: the code paths compiled, the pools grown (the heap moves by some 100 KB either way until then)
  await waitFor(async () => (await state()).streams === 0, { what: 'every stream closed' });
  const before = await state(true);
  await cycles(3_000);
  await waitFor(async () => (await state()).streams === 0, { what: 'every stream closed' });
  await waitFor(async () => (await state()).channels.length === 0, { what: 'every channel released' });
  const after = await state(true);

  expect(cycle).toBe(5_000);
  expect(after.channels).toEqual([]);
  expect(after.followed).toBe(0);
  expect(await admin.pubsub('CHANNELS', 'live_session:*')).toEqual([]);
  // Flat: the last 3,000 cycles grew the heap by less than 250 bytes each (a stream kept by
  // mistake holds its request, response and socket: several KB).
  const growth = after.heapUsed - before.heapUsed;
  console.log(`heap growth over the last 3,000 cycles: ${growth} B (${(growth / 3_000).toFixed(1)} B per cycle)`);
  expect(growth / 3_000).toBeLessThan(250);
  expect(after.errors).toEqual([]);
}, 180_000);

/** A client that sends its request and then never reads a byte. */
function stalledClient(cookie: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcp({ host: '127.0.0.1', port: S.port }, () => {
      socket.write(`GET /live HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nCookie: ${cookie}\r\n\r\n`);
      socket.pause(); // from now on nothing is read: the kernel buffers fill, then the server's
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

test('a client that does not read holds back no other stream, and the server buffers at most one update for it', async () => {
  const user = await login(S, 'slow');
  const other = await login(S, 'fast');
  const stalled = await stalledClient(user.cookieHeader);
  const sameSession = await StreamClient.open(`${S.url}/live`, user.cookieHeader);
  const otherSession = await StreamClient.open(`${S.url}/live`, other.cookieHeader);
  await Promise.all([sameSession, otherSession].map((s) => s.until((v) => typeof v.user === 'string')));
  await waitFor(async () => (await state()).streams === 3, { what: 'three streams' });
  const before = await state(true);

  // 60 writes of 256 KiB each (15 MiB): far more than the kernel's buffers take for the stalled client.
  const big = 'x'.repeat(256 * 1024);
  const frameBytes = big.length + 200;
  let maxBuffered = 0;
  for (let i = 1; i <= 60; i++) {
    await user.post('/set', { key: 'blob', value: `${i}:${big}` });
    await other.post('/set', { key: 'n', value: i });
    maxBuffered = Math.max(maxBuffered, ...(await state()).buffered);
  }

  // The others got everything, while the stalled client still holds its connection.
  await sameSession.until((s) => typeof s.blob === 'string' && s.blob.startsWith('60:'), 'the last blob on the reading stream');
  await otherSession.until((s) => s.n === 60, 'the 60th write of the other session');
  expect(otherSession.updates().slice(1).map((s) => s.n)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  const during = await state(true);
  // What the server holds for the stalled stream: at most the update it was writing when the
  // socket filled up (and the write buffer's own 16 KiB), never the 15 MiB it did not take.
  expect(maxBuffered).toBeGreaterThan(0);
  expect(maxBuffered).toBeLessThan(2 * frameBytes + 64 * 1024);
  console.log(`stalled stream: at most ${maxBuffered} B buffered; heap + external grew ${during.heapUsed + during.external - (before.heapUsed + before.external)} B while 15 MiB were written`);
  expect(during.heapUsed + during.external - (before.heapUsed + before.external)).toBeLessThan(8 * frameBytes);

  // Stalled for two heartbeats: disconnected (an EventSource would come back with its last event id).
  await waitFor(async () => (await state()).streams === 2, { what: 'the stalled stream dropped', timeout: 10_000 });
  stalled.destroy();
  sameSession.close();
  otherSession.close();
  await waitFor(async () => (await state()).channels.length === 0, { what: 'every channel released' });
}, 60_000);
