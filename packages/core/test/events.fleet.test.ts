/**
 * Session events across a fleet: three app servers, each its own process (test/fixtures/
 * event-handler.js, on the built package), handle the events; the test's process makes the
 * sessions and ends them. Every handler counts each event it handles in Redis (HINCRBY on the
 * event id), where the test reads the counts. A standalone Redis (a mixed fleet: ioredis and
 * node-redis servers), then a 3-master Cluster with replicas for a failover.
 */
import { type ChildServer, createTestClient, startChild, startCluster, startRedis, type TestClient, type TestCluster, type TestRedis, waitFor } from '@live-session/test-support';
import { join } from 'node:path';
import { LiveSessionStore } from '../src';
import { cookieJson } from './helpers';

const HANDLER = join(__dirname, 'fixtures', 'event-handler.js');
const HOUR = 60 * 60 * 1000;
const NAMES = ['a', 'b', 'c'];
type Dict = Record<string, unknown>;

const userOf = (session: unknown) => {
  const user = (session as Dict).user;
  return typeof user === 'string' ? user : null;
};

/** A hash reply (RESP2 flat array, or RESP3 map) as pairs. */
function pairs(reply: unknown): [string, string][] {
  if (reply instanceof Map) return [...reply].map(([k, v]) => [String(k), String(v)]);
  if (Array.isArray(reply)) return Array.from({ length: reply.length / 2 }, (_, i) => [String(reply[2 * i]), String(reply[2 * i + 1])]);
  return Object.entries(reply as Record<string, string>);
}

/** What the handlers recorded in Redis: deliveries and type of each event id. */
async function handled(client: TestClient, counts: string): Promise<{ counts: Map<string, number>; types: Map<string, string> }> {
  const [countReply, typeReply] = await Promise.all([client.command(counts, 'HGETALL', counts), client.command(`${counts}:types`, 'HGETALL', `${counts}:types`)]);
  return { counts: new Map(pairs(countReply).map(([id, n]) => [id, Number(n)])), types: new Map(pairs(typeReply)) };
}

/** Waits until the handlers have handled `count` distinct events. */
function handledCount(client: TestClient, counts: string, count: number, timeout: number) {
  return waitFor(async () => (await handled(client, counts)).counts.size >= count, { timeout, interval: 200, what: `${count} events handled` });
}

/** Runs `fn` over `items`, `width` at a time. */
async function inBatches<T>(items: T[], width: number, fn: (item: T, index: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map((item, j) => fn(item, i + j)));
}

function startHandlers(env: Record<string, string>, kinds: string[]): Promise<ChildServer[]> {
  return Promise.all(NAMES.map((name, i) => startChild(HANDLER, { ...env, NAME: name, REDIS_CLIENT: kinds[i % kinds.length] })));
}

async function stopAll(children: ChildServer[]): Promise<void> {
  await Promise.all(children.map((child) => child.stop()));
}

describe('a fleet of three handling servers on a standalone Redis', () => {
  let redis: TestRedis;
  let client: TestClient;
  let store: LiveSessionStore;
  let children: ChildServer[] = [];
  let run = 0;

  beforeAll(async () => {
    redis = await startRedis({ restartable: true, persistent: true });
    client = await createTestClient('ioredis', { url: redis.url }, { fastReconnect: true });
  });
  afterAll(async () => {
    await stopAll(children);
    await client?.close();
    await redis?.close();
  });
  afterEach(async () => {
    await stopAll(children);
    children = [];
  });

  /** A prefix and counts key of its own for each test. */
  function setup(extra: Record<string, string> = {}) {
    run++;
    const prefix = `fleet${run}:`;
    const counts = `{fleet${run}}:handled`;
    store = new LiveSessionStore({ client: client.client, prefix, events: true, userOf, timeout: 10_000 });
    const env = { REDIS_URL: redis.url, PREFIX: prefix, COUNTS: counts, CLAIM_AFTER: '1000', ...extra };
    return { counts, env };
  }

  it('2,000 sessions ending in every way: each of the 4,000 events handled exactly once, by one of three servers', async () => {
    const { counts, env } = setup();
    children = await startHandlers(env, ['ioredis', 'node-redis']);
    const sids = Array.from({ length: 2000 }, (_, i) => `s${i}`);
    const way = (i: number) => (['destroyed', 'revoked', 'expired', 'destroyed'] as const)[i % 4];
    // Ten sessions per user; the expiring ones live 1 to 3 s.
    await inBatches(sids, 100, (sid, i) => store.set(sid, { cookie: cookieJson(way(i) === 'expired' ? 1000 + (i % 2000) : HOUR), user: `u${i % 200}-${way(i)}` } as never));
    await inBatches(sids.filter((_, i) => way(i) === 'destroyed'), 100, (sid) => store.destroy(sid));
    await inBatches(Array.from({ length: 200 }, (_, u) => `u${u}-revoked`), 50, (user) => store.destroySessionsOf(user));
    await handledCount(client, counts, 4000, 60_000);

    const { counts: byId, types } = await handled(client, counts);
    expect(byId.size).toBe(4000);
    expect([...byId.values()].filter((n) => n !== 1)).toEqual([]);
    const tally: Record<string, number> = {};
    for (const type of types.values()) tally[type] = (tally[type] ?? 0) + 1;
    expect(tally).toEqual({ created: 2000, destroyed: 1000, revoked: 500, expired: 500 });
    const typesOf = new Map<string, string[]>();
    for (const [id, type] of types) {
      const sid = id.slice(id.indexOf(':', 2) + 1);
      typesOf.set(sid, [...(typesOf.get(sid) ?? []), type]);
    }
    sids.forEach((sid, i) => expect(typesOf.get(sid)?.sort()).toEqual(['created', way(i)].sort()));
  }, 120_000);

  it('a server killed (SIGKILL) mid-event: another one handles that event after claimAfter', async () => {
    const { counts, env } = setup({ HANG: 'hang' });
    children = await startHandlers(env, ['ioredis', 'node-redis']);
    await store.set('hang-1', { cookie: cookieJson(HOUR) } as never);
    const hung = await waitFor(() => client.command(`${counts}:hung`, 'GET', `${counts}:hung`), { what: 'a handler stuck in the event' });
    const stuck = children[NAMES.indexOf(String(hung))];
    expect(stuck).toBeDefined();
    stuck.process.kill('SIGKILL');
    await handledCount(client, counts, 1, 20_000);
    const { counts: byId } = await handled(client, counts);
    expect([...byId]).toEqual([[expect.stringMatching(/^c:\d+:hang-1$/), 1]]);
  }, 60_000);

  it('Redis restarted: the sessions that expired while it was down are reported once it is back', async () => {
    const { counts, env } = setup();
    children = await startHandlers(env, ['ioredis', 'node-redis']);
    const sids = Array.from({ length: 200 }, (_, i) => `r${i}`);
    await inBatches(sids, 100, (sid, i) => store.set(sid, { cookie: cookieJson(1500 + i) } as never));
    await handledCount(client, counts, 200, 20_000);
    await redis.stop();
    const lastExpiry = Date.now() + 1500 + 200;
    await waitFor(() => Date.now() > lastExpiry + 500, { timeout: 10_000, what: 'every session to be past its expiry' });
    await redis.start();
    await handledCount(client, counts, 400, 30_000);
    const { counts: byId, types } = await handled(client, counts);
    expect(byId.size).toBe(400);
    expect([...byId.values()].filter((n) => n !== 1)).toEqual([]);
    expect([...types.values()].filter((type) => type === 'expired')).toHaveLength(200);
  }, 60_000);

  it('every server down, then back: the backlog is handled once each, in order of expiry (within what the servers claim at once)', async () => {
    const BATCH = 20;
    const CONCURRENCY = 10; // watchSessions' default
    const { counts, env } = setup({ BATCH_SIZE: String(BATCH) });
    const sids = Array.from({ length: 300 }, (_, i) => `b${i}`);
    // No server runs: the sessions expire over about 1.5 s, in an order unrelated to their names.
    await inBatches(sids, 100, (sid, i) => store.set(sid, { cookie: cookieJson(500 + ((i * 7919) % 1500)) } as never));
    const lastExpiry = Date.now() + 2000;
    await waitFor(() => Date.now() > lastExpiry + 500, { timeout: 10_000, what: 'every session to be past its expiry' });
    children = await startHandlers(env, ['ioredis', 'node-redis']);
    await handledCount(client, counts, 600, 30_000);
    const { counts: byId } = await handled(client, counts);
    expect([...byId.values()].filter((n) => n !== 1)).toEqual([]);
    // The expired events in the order they were handled: each one's expiry ranks no further than what
    // the three servers claim and hold at once ahead of where it was handled.
    const order = ((await client.command(`${counts}:order`, 'LRANGE', `${counts}:order`, 0, -1)) as string[])
      .filter((entry) => entry.startsWith('expired:'))
      .map((entry) => Number(entry.slice('expired:'.length)));
    expect(order).toHaveLength(300);
    const sorted = [...order].sort((a, b) => a - b);
    const slack = NAMES.length * (BATCH + 2 * CONCURRENCY);
    order.forEach((at, handledAt) => expect(sorted.indexOf(at)).toBeLessThanOrEqual(handledAt + slack));
  }, 60_000);
});

/** INFO replication of a master: every replica has acknowledged its whole stream. */
function replicated(info: string): boolean {
  const offset = /master_repl_offset:(\d+)/.exec(info)?.[1];
  const replicas = [...info.matchAll(/slave\d+:.*offset=(\d+)/g)].map((match) => match[1]);
  return replicas.length > 0 && replicas.every((acked) => acked === offset);
}

describe('a fleet on a 3-master Redis Cluster with replicas', () => {
  let cluster: TestCluster;
  let client: TestClient;
  let children: ChildServer[] = [];

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, replicasPerMaster: 1 });
    client = await createTestClient('ioredis', { cluster: cluster.nodes }, { fastReconnect: true });
  }, 60_000);
  afterAll(async () => {
    await stopAll(children);
    await client?.close();
    await cluster?.close();
  });

  it('a master fails over while sessions expire: every event is still handled, once', async () => {
    const prefix = 'fo:';
    const counts = '{fo}:handled';
    // A timeout longer than the failover: the destroys sent meanwhile wait in the client's queue.
    const store = new LiveSessionStore({ client: client.client, prefix, events: true, timeout: 30_000 });
    children = await startHandlers({ REDIS_CLUSTER_NODES: cluster.nodeList, PREFIX: prefix, COUNTS: counts, CLAIM_AFTER: '1000' }, ['ioredis', 'node-redis']);
    const sids = Array.from({ length: 300 }, (_, i) => `f${i}`);
    await inBatches(sids, 100, (sid, i) => store.set(sid, { cookie: cookieJson(i % 2 === 0 ? 5000 + i * 20 : HOUR) } as never));
    await handledCount(client, counts, 300, 30_000);

    // Every write so far has reached the replicas (else a failover loses it, as it would any Redis
    // data): then kill a master that holds some of the shards and sessions (not the test's counts).
    // Half the sessions expire during the failover and after it; the other half are destroyed after it.
    await waitFor(async () => (await client.onEveryMaster('INFO', 'replication')).every((info) => replicated(String(info))), { what: 'the replicas to catch up' });
    const masterOfCounts = await client.masterOf(counts);
    const before = await cluster.masters();
    const shardMasters = new Set(await Promise.all(Array.from({ length: 16 }, (_, n) => client.masterOf(`{${prefix}events:${n}}due`))));
    const victim = before.find(({ host, port }) => `${host}:${port}` !== masterOfCounts && shardMasters.has(`${host}:${port}`))!;
    expect(victim).toBeDefined();
    await cluster.kill(victim);
    await waitFor(async () => JSON.stringify(await cluster.masters()) !== JSON.stringify(before), { timeout: 30_000, what: 'the failover' });
    await cluster.healthy({ timeout: 30_000 });
    // The test's own client learns the new topology on its own time (ioredis answers "Too many
    // Cluster redirections" until it has): wait until it reaches every session's slot, as an app
    // would retry; a destroy is idempotent, so one that still fails is sent again.
    await waitFor(async () => Promise.all(sids.map((sid) => client.command(`${prefix}${sid}`, 'PTTL', `${prefix}${sid}`))).then(() => true, () => false), {
      timeout: 30_000,
      what: "the test client to reach every session's slot",
    });
    const destroy = async (sid: string): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          await store.destroy(sid);
          return;
        } catch (err) {
          if (attempt >= 5) throw err;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    };
    await inBatches(sids.filter((_, i) => i % 2 === 1), 50, destroy);

    await handledCount(client, counts, 600, 60_000);
    const { counts: byId, types } = await handled(client, counts);
    expect(byId.size).toBe(600);
    expect([...types.values()].filter((type) => type === 'expired')).toHaveLength(150);
    expect([...types.values()].filter((type) => type === 'destroyed')).toHaveLength(150);
    // At least once always; exactly once here, since nothing unreplicated was lost with the master.
    expect([...byId.values()].filter((n) => n !== 1)).toEqual([]);
  }, 120_000);
});
