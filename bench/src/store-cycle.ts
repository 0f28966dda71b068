/**
 * 1. The store's request cycle in one process, 50 concurrent, over 10,000 sessions:
 *    read-mostly: get, createSession, cookie touch, store.touch (express-session on an unmodified request);
 *    write: get, createSession, change one key, cookie touch, store.set (express-session on a modifying request).
 *    Per store: cycles/s, p50/p99, Redis CPU and Node CPU per cycle, Redis commands per cycle.
 * `pipelining`: ours and connect-redis 8.1 on ioredis with and without `enableAutoPipelining`, at 1, 10,
 *    50 and 200 concurrent cycles.
 */
import type session from 'express-session';
import { CPU_METRICS, metered } from './meter';
import { Latencies } from './stats';
import {
  type AnyStoreName,
  CONNECT_REDIS,
  CONNECT_REDIS_10,
  DAY,
  loadAsExpressSession,
  BASELINE_CORE,
  MEMORY_STORE,
  OURS_BASELINE,
  type OurOptions,
  OURS,
  OURS_NODE_REDIS,
  openStore,
  type OpenStore,
  populate,
  promisify,
  sids as makeSids,
  smallSession,
} from './stores';
import type { Benchmark, Case, Context, MetricDef, Variant } from './types';

const CONCURRENCY = 50;
export const AUTO = ' + autoPipelining';
export const CACHE = ' + cache';
type Kind = 'read' | 'write';

export const CYCLE_METRICS: MetricDef[] = [
  { key: 'cyclesPerSecond', label: 'cycles/s', unit: '/s', better: 'higher' },
  { key: 'p50', label: 'p50', unit: 'ms', better: 'lower' },
  { key: 'p99', label: 'p99', unit: 'ms', better: 'lower' },
  ...CPU_METRICS.map((m) => ({ ...m, label: m.label.replace('per op', 'per cycle') })),
];

export interface Setup extends OpenStore {
  name: string;
  sids: string[];
}

/** A store on its own connection, with `count` sessions in it. */
export async function setUp(ctx: Context, name: string, store: AnyStoreName, count: number, autoPipelining = false, options: OurOptions = {}): Promise<Setup> {
  const open = await openStore(store, ctx.redis.url, `bench:cycle:${name.replace(/\W+/g, '-')}:`, { autoPipelining, options });
  const sids = makeSids(count);
  try {
    await populate(open.store, sids, smallSession);
  } catch (err) {
    await open.close();
    throw err;
  }
  return { ...open, name, sids };
}

/** One variant: `concurrency` loops of the cycle for ctx.runMs; the commands of its last round go to `commands`. */
export function variant(ctx: Context, kind: Kind, setup: Setup, concurrency: number, commands: Record<string, unknown>): Variant {
  return {
    name: setup.name,
    async run() {
      const latencies = new Latencies();
      let next = Math.floor(Math.random() * setup.sids.length);
      let errors = 0;
      const start = performance.now();
      const m = await metered(ctx.meter, async () => {
        const deadline = start + ctx.runMs;
        const loop = async () => {
          while (performance.now() < deadline) {
            const sid = setup.sids[next++ % setup.sids.length];
            const t0 = performance.now();
            try {
              await cycle(kind, setup.store, sid);
            } catch {
              errors++;
            }
            latencies.push(performance.now() - t0);
          }
        };
        await Promise.all(Array.from({ length: concurrency }, loop));
        return { count: latencies.count };
      });
      const elapsed = performance.now() - start;
      if (errors) throw new Error(`${setup.name} ${kind}: ${errors} cycles failed`);
      commands[setup.name] = m.commands;
      const [p50, p99] = latencies.percentiles(50, 99);
      return { cyclesPerSecond: (latencies.count / elapsed) * 1000, p50, p99, redisCpu: m.redisCpu, nodeCpu: m.nodeCpu, commandsPerOp: m.commandsPerOp };
    },
  };
}

function cases(ctx: Context, setups: Setup[], concurrency: number, idPrefix: string, count: number, targets: boolean, title = ''): Case[] {
  const read: Record<string, unknown> = {};
  const write: Record<string, unknown> = {};
  return [
    {
      id: `${idPrefix}/read-mostly`,
      title: `Store cycle, read-mostly (get + touch), ${concurrency} concurrent, ${count} sessions${title}`,
      metrics: CYCLE_METRICS,
      variants: setups.map((s) => variant(ctx, 'read', s, concurrency, read)),
      targets: targets
        ? [
            { metric: 'cyclesPerSecond', against: MEMORY_STORE, op: '>=', ratio: 1.0, text: '>= 1.0x cycles/s of MemoryStore' },
            { metric: 'cyclesPerSecond', against: CONNECT_REDIS_AP, op: '>=', ratio: 3.0, text: '>= 3.0x cycles/s of connect-redis 8.1' },
            { metric: 'redisCpu', against: CONNECT_REDIS_10, op: '<=', ratio: 0.3, text: "Redis CPU <= 0.3x connect-redis 10's" },
            { metric: 'nodeCpu', against: CONNECT_REDIS_AP, op: '<=', ratio: 0.35, text: "Node CPU <= 0.35x connect-redis 8.1's" },
          ]
        : [],
      notes: () => ({ commandsPerCycle: read }),
    },
    {
      id: `${idPrefix}/write`,
      title: `Store cycle, write (get + change one key + set), ${concurrency} concurrent, ${count} sessions${title}`,
      metrics: CYCLE_METRICS,
      variants: setups.map((s) => variant(ctx, 'write', s, concurrency, write)),
      targets: targets
        ? [
            { metric: 'cyclesPerSecond', against: CONNECT_REDIS_AP, op: '>=', ratio: 1.0, text: '>= 1.0x cycles/s of connect-redis 8.1' },
            { metric: 'cyclesPerSecond', against: CONNECT_REDIS_10, op: '>=', ratio: 1.2, text: '>= 1.2x cycles/s of connect-redis 10' },
            { metric: 'redisCpu', against: CONNECT_REDIS_AP, op: '<=', ratio: 2.0, text: "Redis CPU <= 2.0x connect-redis 8.1's" },
          ]
        : [],
      notes: () => ({ commandsPerCycle: write }),
    },
  ];
}

/** How long the touchAfter variant lets the expiry lag: a tenth of the sessions' one-day maxAge. */
const TOUCH_AFTER = DAY / 10;

/** connect-redis 8.1 with the client setting every store of the anchors' runs gets (issue 20). */
const CONNECT_REDIS_AP = `${CONNECT_REDIS}${AUTO}`;

export const storeCycle: Benchmark = {
  name: 'store-cycle',
  async setup(ctx: Context) {
    const count = ctx.quick ? 1_000 : 10_000;
    // The first variant is the one the targets judge: ours with the client setting the README
    // recommends (ioredis's enableAutoPipelining) and the cache, whose default bound holds the sessions.
    const variants: [string, AnyStoreName, boolean, OurOptions?][] = [
      [`${OURS}${AUTO}${CACHE}`, OURS, true, { cache: true }],
      [`${OURS_NODE_REDIS}${CACHE}`, OURS_NODE_REDIS, false, { cache: true }],
      [`${OURS}${AUTO}`, OURS, true],
      [`${OURS}${AUTO}, touchAfter`, OURS, true, { touchAfter: TOUCH_AFTER }],
      [OURS, OURS, false],
      [OURS_NODE_REDIS, OURS_NODE_REDIS, false],
      [CONNECT_REDIS_AP, CONNECT_REDIS, true],
      [CONNECT_REDIS, CONNECT_REDIS, false],
      [CONNECT_REDIS_10, CONNECT_REDIS_10, false],
      [MEMORY_STORE, MEMORY_STORE, false],
      // Another build of ours (LIVE_SESSION_BASELINE), without the cache: "no figure worse than before".
      ...(BASELINE_CORE ? [[`${OURS_BASELINE}${AUTO}`, OURS_BASELINE, true] as [string, AnyStoreName, boolean]] : []),
    ];
    const setups: Setup[] = [];
    for (const [name, store, auto, options] of variants) setups.push(await setUp(ctx, name, store, count, auto, options));
    ctx.log(`store-cycle: ${count} sessions in each store`);
    // Misses: a working set ten times the cache's bound, against the same store without a cache.
    const missSetups = [
      await setUp(ctx, `${OURS}${AUTO}${CACHE} (maxSessions ${count / 10})`, OURS, count, true, { cache: { maxSessions: count / 10 } }),
      await setUp(ctx, `${OURS}${AUTO} (no cache)`, OURS, count, true),
    ];
    const missCases = cases(ctx, missSetups, CONCURRENCY, 'store-cycle/misses', count, false, `, the cache holding ${count / 10}`);
    for (const c of missCases) {
      c.targets = [
        { metric: 'cyclesPerSecond', against: missSetups[1].name, op: '>=', ratio: 1.0, text: 'cycles/s no worse than without the cache' },
        { metric: 'redisCpu', against: missSetups[1].name, op: '<=', ratio: 1.0, text: 'Redis CPU no worse than without the cache' },
      ];
    }
    const all = [...setups, ...missSetups];
    return {
      cases: [...cases(ctx, setups, CONCURRENCY, 'store-cycle', count, true), ...missCases],
      close: async () => void (await Promise.all(all.map((s) => s.close()))),
    };
  },
};

/** The client setting at 1, 10, 50 and 200 concurrent cycles (with --quick: 1 and 50). */
export const pipelining: Benchmark = {
  name: 'pipelining',
  async setup(ctx: Context) {
    const count = ctx.quick ? 1_000 : 10_000;
    const setups = await Promise.all(
      [
        [OURS, false],
        [OURS, true],
        [CONNECT_REDIS, false],
        [CONNECT_REDIS, true],
      ].map(([name, auto]) => setUp(ctx, `${name}${auto ? AUTO : ''}`, name as AnyStoreName, count, auto as boolean)),
    );
    const levels = ctx.quick ? [1, 50] : [1, 10, 50, 200];
    return {
      cases: levels.flatMap((n) => cases(ctx, setups, n, `pipelining/${n}`, count, false)),
      close: async () => void (await Promise.all(setups.map((s) => s.close()))),
    };
  },
};

async function cycle(kind: Kind, store: session.Store, sid: string): Promise<void> {
  const sess = await loadAsExpressSession(store, sid);
  if (kind === 'write') sess.visits = ((sess.visits as number) ?? 0) + 1;
  // express-session's end of request: the cookie's touch, then save (modified) or store.touch (unmodified).
  sess.touch();
  if (kind === 'write') await promisify<void>((cb) => store.set(sid, sess, cb));
  else await promisify<void>((cb) => store.touch!(sid, sess, cb as (err?: unknown) => void));
}
