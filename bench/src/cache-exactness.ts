/**
 * What reads from memory (the store's `cache` option) promise, measured rather than timed:
 *   stale reads: two stores (each its own connections and subscriber, as two app servers have),
 *     writes on one, a read of the same session on the other at once, 20 sessions at a time,
 *     writes alternating between the two; every read compared with the value just written;
 *   deleted outside the library: sessions read all the time from a store's cache, then DEL (or
 *     FLUSHALL) behind its back: how long until its reads stop answering them (the bound is 1 s);
 *   heap per cached session: the heap the cache takes for 10,000 sessions (after a full GC), per session.
 * Ours only (no anchor serves reads from memory with a promise to compare).
 */
import type { LiveSessionStore } from '@live-session/core';
import { randomBytes } from 'node:crypto';
import { collectGarbage } from './gc';
import { CACHE } from './store-cycle';
import { newClient, OURS, openStore, populate, promisify, sids as makeSids, smallSession } from './stores';
import { RedisMeter } from './meter';
import { Latencies } from './stats';
import type { Benchmark, Case, Context } from './types';

const SESSIONS = 20;

async function openCached(ctx: Context, prefix: string, options = {}): Promise<{ store: LiveSessionStore; close(): Promise<unknown> }> {
  const open = await openStore(OURS, ctx.redis.url, prefix, { autoPipelining: true, options: { cache: true, ...options } });
  return { store: open.store as unknown as LiveSessionStore, close: open.close };
}

/** express-session's read: get with a callback. */
function read(store: LiveSessionStore, sid: string): Promise<Record<string, unknown> | null> {
  return promisify((cb) => store.get(sid, cb as never)) as Promise<Record<string, unknown> | null>;
}

export const cacheExactness: Benchmark = {
  name: 'cache-exactness',
  async setup(ctx: Context) {
    const rounds = ctx.quick ? 20 : 500;
    const deletes = ctx.quick ? 20 : 200;
    const heapSessions = ctx.quick ? 1_000 : 10_000;
    const cases: Case[] = [
      {
        id: 'cache-exactness/stale-reads',
        title: `Reads from memory: a write on one store, a read on another at once (${SESSIONS} sessions x ${rounds} writes, alternating)`,
        metrics: [
          { key: 'reads', label: 'reads', unit: '', better: 'higher' },
          { key: 'stale', label: 'stale reads', unit: '', better: 'lower' },
          { key: 'fromMemory', label: 'reads from memory', unit: '%', better: 'higher' },
        ],
        warmup: false,
        targets: [{ metric: 'stale', against: 'value', op: '<=', ratio: 0, text: '0 stale reads' }],
        variants: [
          {
            name: `${OURS}${CACHE}`,
            async run(round) {
              const prefix = `bench:exact:${round}:${randomBytes(4).toString('hex')}:`;
              const [a, b] = [await openCached(ctx, prefix), await openCached(ctx, prefix)];
              try {
                const sids = makeSids(SESSIONS);
                await populate(a.store, sids, smallSession);
                const before = await ctx.meter.sample();
                let stale = 0;
                for (let n = 1; n <= rounds; n++) {
                  const [writer, reader] = n % 2 ? [a.store, b.store] : [b.store, a.store];
                  await Promise.all(sids.map((sid) => writer.putSession(sid, 'n', n)));
                  const got = await Promise.all(sids.map((sid) => read(reader, sid)));
                  stale += got.filter((session) => session?.n !== n).length;
                }
                const delta = RedisMeter.delta(before, await ctx.meter.sample());
                const reads = rounds * SESSIONS;
                // A read that had to ask Redis sends an HGETALL (or the get script): the rest came from memory.
                // (Each putSession is one EVALSHA, which runs one HGETALL inside: INFO counts both.)
                const writes = rounds * SESSIONS;
                const fromRedis = (delta.commands.hgetall ?? 0) - writes + (delta.commands.evalsha ?? 0) - writes;
                return { reads, stale, fromMemory: (100 * (reads - Math.max(0, fromRedis))) / reads };
              } finally {
                await Promise.all([a.close(), b.close()]);
              }
            },
          },
        ],
      },
      ...(['DEL', 'FLUSHALL'] as const).map(
        (how): Case => ({
          id: `cache-exactness/${how.toLowerCase()}`,
          title: `Reads from memory: how long a session deleted outside the library (${how}) is still served (${deletes} sessions, read in a loop)`,
          metrics: [
            { key: 'p50', label: 'p50', unit: 'ms', better: 'lower' },
            { key: 'max', label: 'max', unit: 'ms', better: 'lower' },
          ],
          warmup: false,
          targets: [{ metric: 'max', against: 'value', op: '<=', ratio: 1000, text: 'served at most 1 s after' }],
          variants: [
            {
              name: `${OURS}${CACHE}`,
              async run(round) {
                const prefix = `bench:gone:${how}:${round}:`;
                const b = await openCached(ctx, prefix);
                const admin = newClient(ctx.redis.url);
                try {
                  const sids = makeSids(deletes);
                  await populate(b.store, sids, smallSession);
                  // Taken into the cache at moments spread over a second: each its own confirmation cycle.
                  await Promise.all(sids.map(async (sid) => {
                    await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
                    await read(b.store, sid);
                  }));
                  // Each session read in a loop; deleted (DEL: each at its own random moment) behind the store's back.
                  const goneAt = new Map<string, number>();
                  const served = Promise.all(
                    sids.map(async (sid) => {
                      while (!goneAt.has(sid) || (await read(b.store, sid)) !== null) {
                        if (!goneAt.has(sid)) await read(b.store, sid);
                        await new Promise((resolve) => setTimeout(resolve, 5));
                      }
                      return Date.now() - goneAt.get(sid)!;
                    }),
                  );
                  await new Promise((resolve) => setTimeout(resolve, 500));
                  if (how === 'DEL') {
                    await Promise.all(sids.map(async (sid) => {
                      await new Promise((resolve) => setTimeout(resolve, Math.random() * 1000));
                      goneAt.set(sid, Date.now());
                      await admin.del(prefix + sid);
                    }));
                  } else {
                    const at = Date.now();
                    for (const sid of sids) goneAt.set(sid, at);
                    await admin.flushall();
                  }
                  const times = await served;
                  const latencies = new Latencies();
                  for (const ms of times) latencies.push(ms);
                  const [p50, max] = latencies.percentiles(50, 100);
                  return { p50, max };
                } finally {
                  admin.disconnect();
                  await b.close();
                }
              },
            },
          ],
        }),
      ),
      {
        id: 'cache-exactness/heap',
        title: `Reads from memory: heap per cached session (${heapSessions} small sessions, after a full GC)`,
        metrics: [{ key: 'bytes', label: 'heap per cached session', unit: 'B', better: 'lower' }],
        warmup: false,
        variants: [
          {
            name: `${OURS}${CACHE}`,
            async run(round) {
              const prefix = `bench:heap:${round}:`;
              const b = await openCached(ctx, prefix, { cache: { maxSessions: heapSessions } });
              try {
                const sids = makeSids(heapSessions);
                await populate(b.store, sids, smallSession);
                await read(b.store, sids[0]); // the replica's code and connection exist before the baseline
                collectGarbage(); // a full collection before each heap reading
                const base = process.memoryUsage().heapUsed;
                for (let i = 0; i < sids.length; i += 200) await Promise.all(sids.slice(i, i + 200).map((sid) => read(b.store, sid)));
                collectGarbage();
                return { bytes: (process.memoryUsage().heapUsed - base) / (heapSessions - 1) };
              } finally {
                await b.close();
              }
            },
          },
        ],
      },
    ];
    return { cases, close: async () => undefined };
  },
};
