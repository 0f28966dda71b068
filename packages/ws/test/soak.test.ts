/**
 * 5,000 WebSocket connect/disconnect cycles leave nothing subscribed and the heap flat; keepAlive
 * makes a client's messages count as use of its session. App servers in their own processes.
 */
import { startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import Redis from 'ioredis';
import { login, RecordingWs, sidOf, startServer } from './helpers';

let redis: TestRedis;
let admin: Redis;

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
});

afterAll(async () => {
  admin?.disconnect();
  await redis?.close();
});

interface State {
  connections: number;
  clients: number;
  followed: number;
  channels: string[];
  heapUsed: number;
  errors: string[];
}

test('5,000 connect/disconnect cycles leave 0 subscriptions and a flat heap', async () => {
  const S = await startServer(redis.url, { NAME: 'S' });
  const state = async (gc = false): Promise<State> => (await fetch(`${S.url}/debug/state${gc ? '?gc=1' : ''}`)).json() as Promise<State>;
  try {
    const clients = await Promise.all(Array.from({ length: 50 }, (_, i) => login(S, `soak-${i}`)));
    let cycle = 0;
    /** `count` cycles, 25 at a time: each connection is followed (its first update arrived) before it closes. */
    async function cycles(count: number): Promise<void> {
      const end = cycle + count;
      await Promise.all(
        Array.from({ length: 25 }, async () => {
          while (cycle < end) {
            const client = clients[cycle++ % clients.length];
            const socket = await RecordingWs.open(S.wsUrl, client.cookieHeader);
            await socket.until((s) => typeof s.user === 'string');
            // Half close cleanly, half vanish (a dropped network): both must let go.
            if (cycle % 2) socket.ws.close();
            else socket.close();
            await waitFor(() => socket.closed, { what: 'the close' });
          }
        }),
      );
    }
    const settled = async () => {
      await waitFor(async () => {
        const s = await state();
        return s.connections === 0 && s.clients === 0 && s.channels.length === 0;
      }, { what: 'every connection closed and every channel released' });
      return state(true);
    };
    await cycles(2_000); // warm-up: the code paths compiled, the pools grown
    const before = await settled();
    await cycles(3_000);
    const after = await settled();

    expect(cycle).toBe(5_000);
    expect(after.followed).toBe(0);
    expect(await admin.pubsub('CHANNELS', 'live_session:*')).toEqual([]);
    const growth = after.heapUsed - before.heapUsed;
    console.log(`heap growth over the last 3,000 cycles: ${growth} B (${(growth / 3_000).toFixed(1)} B per cycle)`);
    expect(growth / 3_000).toBeLessThan(250);
    expect(after.errors).toEqual([]);
  } finally {
    await S.stop();
  }
}, 180_000);

test('keepAlive: the client\'s messages refresh its session\'s lifetime', async () => {
  const K = await startServer(redis.url, { NAME: 'K', KEEP_ALIVE: '1' });
  try {
    const client = await login(K, 'kept', { maxAge: 4000 });
    const key = `live_session:${sidOf(client)}`;
    const socket = await RecordingWs.open(K.wsUrl, client.cookieHeader);
    await socket.until((s) => s.user === 'kept');
    const expiry = Date.now() + (await admin.pttl(key));
    // Messages go on until the lifetime moved past where the login left it (by more than clock noise).
    await waitFor(
      async () => {
        socket.ws.send('whoami');
        return Date.now() + (await admin.pttl(key)) > expiry + 200;
      },
      { what: 'the expiry to move', interval: 100 },
    );
    socket.close();
  } finally {
    await K.stop();
  }
});
