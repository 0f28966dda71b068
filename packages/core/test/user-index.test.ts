/** The sessions of a user on a standalone Redis (the suite lives in user-index.suite.ts), and what the index costs. */
import { startRedis, type TestRedis } from '@live-session/test-support';
import { Redis } from 'ioredis';
import { LiveSessionStore } from '../src';
import { cookieJson, monitorClient, Resources } from './helpers';
import { userIndexSuite } from './user-index.suite';

/** EVALSHA, or EVAL the first time (ioredis falls back to it while Redis does not know the script). */
const nameOf = (command: string[]) => (/^eval(sha)?$/i.test(command[0]) ? 'script' : command[0].toLowerCase());

userIndexSuite('standalone Redis', async () => {
  const redis = await startRedis();
  const client = new Redis(redis.url);
  return {
    client,
    close: async () => {
      client.disconnect();
      await redis.close();
    },
    subscriber: async (onMessage) => {
      const subscriber = client.duplicate();
      subscriber.on('message', onMessage);
      return { subscribe: (channel) => subscriber.subscribe(channel), close: () => subscriber.disconnect() };
    },
  };
});

describe('what the user index costs', () => {
  let redis: TestRedis;
  const resources = new Resources();
  beforeAll(async () => {
    redis = await startRedis();
    resources.add(redis, (r) => r.close());
  });
  afterAll(() => resources.closeAll());

  it('costs nothing without userOf: no extra argument, command, field or key', async () => {
    const admin = resources.redis(redis);
    const client = resources.redis(redis);
    const store = new LiveSessionStore({ client, prefix: 'plain:' });
    const monitor = await monitorClient(resources, admin, client);
    await store.set('s', { cookie: cookieJson(60_000), user: 'ada' } as never);
    await store.get('s');
    await store.destroy('s');
    const commands = await monitor.take();
    expect(commands.map((c) => [nameOf(c), c.length])).toEqual([
      ['script', 11], // the write: EVALSHA sha 1 key header, then cookie, user and $t with their values
      ['script', 4], // get: sha, 1, key (a client without auto-pipelining: the get script)
      ['script', 6], // destroy: sha, 1, key, publish, reason
    ]);
    expect(commands[0].slice(-2)).toEqual(['$t', '60000']); // no index argument after the fields
    expect(commands.flat().some((arg) => arg.includes('live_session_user:'))).toBe(false);
  });

  it('with userOf: a login costs 3 commands, a read 1, and the index is told again at most once per quarter lifetime', async () => {
    const admin = resources.redis(redis);
    const client = resources.redis(redis);
    const store = new LiveSessionStore({ client, prefix: 'cost:', userOf: (s) => (s as { user?: string }).user });
    const monitor = await monitorClient(resources, admin, client);
    const maxAge = 2000;
    await store.set('s', { cookie: cookieJson(maxAge), user: 'ada' } as never);
    // The write, the index's add, the confirmation on the session.
    expect((await monitor.take()).map(nameOf)).toEqual(['script', 'script', 'script']);
    // Reads for 2.5 lifetimes, as often as possible: each is one command, plus the refreshes.
    let reads = 0;
    const started = Date.now();
    let refreshes = 0;
    while (Date.now() - started < 2.5 * maxAge) {
      await store.get('s');
      reads++;
      const taken = await monitor.take();
      refreshes += taken.length - 1;
    }
    expect(await store.sessionsOf('ada')).toHaveLength(1);
    // Each refresh is two commands (add, confirm); at most one per quarter of the lifetime.
    expect(refreshes % 2).toBe(0);
    expect(refreshes / 2).toBeGreaterThanOrEqual(2);
    expect(refreshes / 2).toBeLessThanOrEqual(Math.ceil((2.5 * maxAge) / (maxAge / 4)) + 1);
    console.log(`user index: ${reads} reads over ${2.5 * maxAge} ms of a ${maxAge} ms session: ${refreshes / 2} index refreshes (${refreshes} commands)`);
  }, 30_000);
});
