/**
 * The cost of the user index (the store's `userOf` option) on the store cycle: the same cycle as
 * store-cycle.ts, 50 concurrent over the same small sessions (1,000 users, 10 sessions each), by a
 * store with `userOf` and one without, in alternating rounds of one run on one Redis. Both on the
 * client setting the README recommends (ioredis's enableAutoPipelining).
 */
import { LiveSessionStore } from '@live-session/core';
import type session from 'express-session';
import { Latencies } from './stats';
import { loadAsExpressSession, newClient, populate, promisify, sids as makeSids, smallSession } from './stores';
import type { Benchmark, Case, Context, Variant } from './types';

const CONCURRENCY = 50;
const WITH = 'with userOf';
const WITHOUT = 'without userOf';

const userOf = (s: session.SessionData) => {
  const user = (s as unknown as { user?: { id?: unknown } }).user;
  return user && user.id !== undefined ? String(Number(user.id) % 1000) : null;
};

export const userIndex: Benchmark = {
  name: 'user-index',
  async setup(ctx: Context) {
    const count = ctx.quick ? 1_000 : 10_000;
    const setups = await Promise.all(
      [WITH, WITHOUT].map(async (name) => {
        const client = newClient(ctx.redis.url, { autoPipelining: true });
        const prefix = `bench:index:${name === WITH ? 'with' : 'without'}:`;
        const store = new LiveSessionStore(name === WITH ? { client, prefix, userOf, indexPrefix: 'bench:index_user:' } : { client, prefix });
        const sids = makeSids(count);
        await populate(store, sids, smallSession);
        return { name, client, store, sids };
      }),
    );
    ctx.log(`user-index: ${count} sessions in each store`);

    const variant = (kind: 'read' | 'write', { name, store, sids }: (typeof setups)[number]): Variant => ({
      name,
      async run() {
        const latencies = new Latencies();
        let next = Math.floor(Math.random() * sids.length);
        let errors = 0;
        const start = performance.now();
        const deadline = start + ctx.runMs;
        const loop = async () => {
          while (performance.now() < deadline) {
            const sid = sids[next++ % sids.length];
            const t0 = performance.now();
            try {
              await cycle(kind, store, sid);
            } catch {
              errors++;
            }
            latencies.push(performance.now() - t0);
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, loop));
        const elapsed = performance.now() - start;
        if (errors) throw new Error(`${name} ${kind}: ${errors} cycles failed`);
        const [p50, p99] = latencies.percentiles(50, 99);
        return { cyclesPerSecond: (latencies.count / elapsed) * 1000, p50, p99 };
      },
    });

    const metrics = [
      { key: 'cyclesPerSecond', label: 'cycles/s', unit: '/s', better: 'higher' as const },
      { key: 'p50', label: 'p50', unit: 'ms', better: 'lower' as const },
      { key: 'p99', label: 'p99', unit: 'ms', better: 'lower' as const },
    ];
    const cases: Case[] = [
      {
        id: 'user-index/read-mostly',
        title: `Store cycle with and without the user index, read-mostly (get + touch), ${CONCURRENCY} concurrent, ${count} sessions`,
        metrics,
        variants: setups.map((s) => variant('read', s)),
      },
      {
        id: 'user-index/write',
        title: `Store cycle with and without the user index, write (get + change one key + set), ${CONCURRENCY} concurrent, ${count} sessions`,
        metrics,
        variants: setups.map((s) => variant('write', s)),
      },
    ];
    return {
      cases,
      async close() {
        await Promise.all(setups.map((s) => s.client.quit()));
      },
    };
  },
};

async function cycle(kind: 'read' | 'write', store: session.Store, sid: string): Promise<void> {
  const sess = await loadAsExpressSession(store, sid);
  if (kind === 'write') sess.visits = ((sess.visits as number) ?? 0) + 1;
  sess.touch();
  if (kind === 'write') await promisify<void>((cb) => store.set(sid, sess, cb));
  else await promisify<void>((cb) => store.touch!(sid, sess, cb as (err?: unknown) => void));
}
