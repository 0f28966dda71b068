/**
 * What the session events cost (the store's `events` option, watchSessions), in one run on one Redis:
 * 1. The store cycle of store-cycle.ts (50 concurrent, ioredis with auto-pipelining), events on
 *    against off: cycles/s, Redis and Node CPU and Redis commands per cycle, read-mostly and write.
 * 2. A session's whole life in a request's terms: created by a save, destroyed by a logout (the two
 *    writes that record an event), events on against off, per life.
 * 3. Memory per session: its hash, plus its share of its shard's due set and info hash.
 * 4. Lateness of the expired events: 10,000 sessions expiring within one minute (1,000 within five
 *    seconds with --quick), three watchers (each its own client) handling them; the time from the
 *    expiry Redis holds (the cookie's) to the handler, p50/p99/max. Once per client library on the
 *    benchmark's Redis, and once on a local 3-master Cluster (ioredis; 16 shards over its masters).
 */
import { LiveSessionStore, watchSessions, type SessionWatcher } from '@live-session/core';
import { startCluster, type TestCluster } from '@live-session/test-support';
import type session from 'express-session';
import { Cluster } from 'ioredis';
import { createClient } from 'redis';
import { metered, CPU_METRICS } from './meter';
import { Latencies } from './stats';
import { AUTO, CYCLE_METRICS, setUp, type Setup, variant } from './store-cycle';
import { newClient, OURS, promisify, sids as makeSids, smallSession } from './stores';
import type { Benchmark, Case, Context, Variant } from './types';

const ON = 'events on';
const OFF = 'events off';
const CONCURRENCY = 50;
const WATCHERS = 3;

export const events: Benchmark = {
  name: 'events',
  async setup(ctx: Context) {
    const count = ctx.quick ? 1_000 : 10_000;
    const closers: (() => Promise<unknown>)[] = [];
    const setups: Setup[] = [];
    for (const [name, on] of [[ON, true], [OFF, false]] as const) setups.push(await setUp(ctx, `${OURS}${AUTO}, ${name}`, OURS, count, true, { events: on }));
    closers.push(...setups.map((s) => () => s.close()));
    // A watcher drains what the cycles record (nothing on these cycles; the populate's creations).
    const watcher = watchSessions(setups[0].store as LiveSessionStore, {}, { sweepInterval: 0 });
    closers.unshift(() => watcher.close());
    ctx.log(`events: ${count} sessions in each store`);

    // Every variant starts once the watcher has handled what the one before it recorded: its work
    // is then counted in the run that caused it, not the next one.
    const admin = newClient(ctx.redis.url);
    closers.push(async () => admin.disconnect());
    const stream = `{${(setups[0].store as LiveSessionStore).options.eventsPrefix}0}stream`;
    const drain = async () => {
      while (Number(await admin.xlen(stream)) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    const drained = (inner: Variant): Variant => ({
      name: inner.name,
      async run(round) {
        await drain();
        return inner.run(round);
      },
    });
    const read: Record<string, unknown> = {};
    const write: Record<string, unknown> = {};
    const lives: Record<string, unknown> = {};
    const memoryNotes: Record<string, unknown> = {};
    const cases: Case[] = [
      {
        id: 'events/read-mostly',
        title: `Store cycle with events on and off, read-mostly (get + touch), ${CONCURRENCY} concurrent, ${count} sessions`,
        metrics: CYCLE_METRICS,
        variants: setups.map((s) => drained(variant(ctx, 'read', s, CONCURRENCY, read))),
        notes: () => ({ commandsPerCycle: read }),
      },
      {
        id: 'events/write',
        title: `Store cycle with events on and off, write (get + change one key + set), ${CONCURRENCY} concurrent, ${count} sessions`,
        metrics: CYCLE_METRICS,
        variants: setups.map((s) => drained(variant(ctx, 'write', s, CONCURRENCY, write))),
        notes: () => ({ commandsPerCycle: write }),
      },
      {
        id: 'events/life',
        title: `A session's life: created by a save, destroyed (logout), ${CONCURRENCY} concurrent, events on and off (on: until a watcher in this process has handled both events)`,
        metrics: [{ key: 'livesPerSecond', label: 'lives/s', unit: '/s', better: 'higher' }, ...CPU_METRICS.map((m) => ({ ...m, label: m.label.replace('per op', 'per life') }))],
        variants: setups.map((s) => drained(lifeVariant(ctx, s, lives, drain))),
        notes: () => ({ commandsPerLife: lives }),
      },
      {
        id: 'events/memory',
        title: `Redis memory per session (MEMORY USAGE SAMPLES 0): its hash, plus its share of its events shard (${count} sessions)`,
        metrics: [{ key: 'bytes', label: 'bytes/session', unit: 'B', better: 'lower' }],
        variants: setups.map((s) => drained(memoryVariant(ctx, s, memoryNotes))),
        warmup: false,
        notes: () => memoryNotes,
      },
    ];
    const lateness: Record<string, unknown> = {};
    let cluster: TestCluster | undefined;
    closers.push(async () => cluster?.close());
    cases.push({
      id: 'events/lateness',
      title: `Expired events: ${count} sessions expiring within ${ctx.quick ? 5 : 60} s, ${WATCHERS} watchers; from the expiry to the handler`,
      metrics: [
        { key: 'p50', label: 'p50', unit: 'ms', better: 'lower' },
        { key: 'p99', label: 'p99', unit: 'ms', better: 'lower' },
        { key: 'max', label: 'max', unit: 'ms', better: 'lower' },
        { key: 'handled', label: 'handled', unit: 'events', better: 'higher' },
      ],
      variants: [
        ...(['ioredis', 'node-redis'] as const).map((library) => latenessVariant(ctx, library, count, lateness)),
        latenessVariant(ctx, 'ioredis', count, lateness, async () => {
          cluster ??= await startCluster({ masters: 3 });
          return cluster;
        }),
      ],
      targets: [{ metric: 'p99', against: 'value', op: '<=', ratio: 1000, text: 'p99 <= 1,000 ms' }],
      warmup: false,
      notes: () => lateness,
    });
    return { cases, close: async () => void (await Promise.all(closers.map((close) => close()))) };
  },
};

/**
 * Creates a session (a save without a loaded session) and destroys it, CONCURRENCY at a time, for
 * ctx.runMs; then waits, still metered, until the watcher has handled every event the lives recorded.
 */
function lifeVariant(ctx: Context, setup: Setup, notes: Record<string, unknown>, drain: () => Promise<void>): Variant {
  return {
    name: setup.name,
    async run(round) {
      let n = 0;
      const start = performance.now();
      const m = await metered(ctx.meter, async () => {
        const deadline = start + ctx.runMs;
        const loop = async (worker: number) => {
          while (performance.now() < deadline) {
            const sid = `life-${round}-${worker}-${n++}`;
            await promisify<void>((cb) => setup.store.set(sid, smallSession(n) as unknown as session.SessionData, cb));
            await promisify<void>((cb) => setup.store.destroy(sid, cb));
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, (_, worker) => loop(worker)));
        await drain();
        return { count: n };
      });
      notes[setup.name] = m.commands;
      return { livesPerSecond: (n / (performance.now() - start)) * 1000, redisCpu: m.redisCpu, nodeCpu: m.nodeCpu, commandsPerOp: m.commandsPerOp };
    },
  };
}

/** The sessions' hashes, plus (events on) the due set and info hash of every shard, per session. */
function memoryVariant(ctx: Context, setup: Setup, notes: Record<string, unknown>): Variant {
  return {
    name: setup.name,
    async run() {
      const client = newClient(ctx.redis.url);
      try {
        const store = setup.store as LiveSessionStore;
        const usage = async (key: string) => Number((await client.memory('USAGE', key, 'SAMPLES', 0)) ?? 0);
        let sessions = 0;
        for (const sid of setup.sids) sessions += await usage(store.keyOf(sid));
        const shard = `{${store.options.eventsPrefix}0}`;
        const [due, info, streamBytes] = store.options.events ? await Promise.all([usage(`${shard}due`), usage(`${shard}info`), usage(`${shard}stream`)]) : [0, 0, 0];
        const n = setup.sids.length;
        notes[setup.name] = { sessionHash: sessions / n, dueSet: due / n, infoHash: info / n, emptyStreamBytes: streamBytes };
        return { bytes: (sessions + due + info) / n };
      } finally {
        client.disconnect();
      }
    },
  };
}

/**
 * COUNT sessions expiring evenly over the window, three watchers (three clients of `library`); each
 * handled expired event's lateness is the handler's clock minus the expiry the session was given.
 */
function latenessVariant(ctx: Context, library: 'ioredis' | 'node-redis', count: number, notes: Record<string, unknown>, onCluster?: () => Promise<TestCluster>): Variant {
  const name = `${WATCHERS} watchers (${library}${onCluster ? ', 3-master Cluster' : ''})`;
  return {
    name,
    async run(round) {
      const windowMs = ctx.quick ? 5_000 : 60_000;
      const leadMs = ctx.quick ? 2_000 : 5_000;
      const prefix = `bench:late:${library}:${round}:`;
      const opened: { client: unknown; close(): Promise<unknown> }[] = [];
      const nodes = onCluster && (await onCluster()).nodes;
      const open = async () => {
        if (nodes) {
          const client = new Cluster(nodes, { enableAutoPipelining: true });
          opened.push({ client, close: async () => client.disconnect() });
          return client;
        }
        if (library === 'ioredis') {
          const client = newClient(ctx.redis.url, { autoPipelining: true });
          opened.push({ client, close: async () => client.disconnect() });
          return client;
        }
        const client = createClient({ url: ctx.redis.url });
        client.on('error', () => undefined);
        await client.connect();
        opened.push({ client, close: () => client.close() });
        return client;
      };
      const storeOf = async () => new LiveSessionStore({ client: (await open()) as ConstructorParameters<typeof LiveSessionStore>[0]['client'], prefix, events: true, timeout: 10_000 });
      const producer = await storeOf();
      const expiries = new Map<string, number>();
      const latencies = new Latencies();
      let handled = 0;
      let done!: () => void;
      const all = new Promise<void>((resolve) => (done = resolve));
      const watchers: SessionWatcher[] = [];
      for (let i = 0; i < WATCHERS; i++) {
        watchers.push(
          watchSessions(
            await storeOf(),
            {
              expired: (event) => {
                const expiry = expiries.get(event.sid);
                if (expiry === undefined) return;
                latencies.push(Date.now() - expiry);
                if (++handled === count) done();
              },
            },
            { sweepInterval: 0 },
          ),
        );
      }
      try {
        // Created in the first seconds, expiring evenly over the window after the lead.
        const sids = makeSids(count);
        const base = Date.now() + leadMs;
        for (let i = 0; i < count; i += 200) {
          await Promise.all(
            sids.slice(i, i + 200).map((sid, j) => {
              const expiresAt = Math.round(base + ((i + j) * windowMs) / count);
              expiries.set(sid, expiresAt);
              const cookie = { originalMaxAge: expiresAt - Date.now(), expires: new Date(expiresAt).toISOString(), httpOnly: true, path: '/' };
              return producer.set(sid, { cookie } as unknown as session.SessionData);
            }),
          );
        }
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, leadMs + windowMs + 30_000).unref());
        await Promise.race([all, timeout]);
      } finally {
        await Promise.all(watchers.map((w) => w.close()));
        await Promise.all(opened.map((o) => o.close()));
      }
      const [p50, p99, max] = latencies.percentiles(50, 99, 100);
      notes[`${name} round ${round}`] = { handled, of: count, p50, p99, max };
      return { p50, p99, max, handled };
    },
  };
}
