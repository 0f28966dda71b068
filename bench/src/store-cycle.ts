/**
 * 1. The store's request cycle in one process, 50 concurrent, over 10,000 sessions:
 *    read-mostly: get, createSession, cookie touch, store.touch (express-session on an unmodified request);
 *    write: get, createSession, change one key, cookie touch, store.set (express-session on a modifying request).
 */
import type session from 'express-session';
import { Latencies } from './stats';
import { CONNECT_REDIS, createStore, loadAsExpressSession, newClient, OURS, populate, promisify, sids as makeSids, smallSession, type StoreName } from './stores';
import type { Benchmark, Case, Context, Variant } from './types';

const CONCURRENCY = 50;

export const storeCycle: Benchmark = {
  name: 'store-cycle',
  async setup(ctx: Context) {
    const count = ctx.quick ? 1_000 : 10_000;
    const setups = await Promise.all(
      [OURS, CONNECT_REDIS].map(async (name) => {
        const client = newClient(ctx.redis.url);
        const store = createStore(name as StoreName, client, `bench:cycle:${name}:`);
        const sids = makeSids(count);
        await populate(store, sids, smallSession);
        return { name: name as StoreName, client, store, sids };
      }),
    );
    ctx.log(`store-cycle: ${count} sessions in each store`);

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
        id: 'store-cycle/read-mostly',
        title: `Store cycle, read-mostly (get + touch), ${CONCURRENCY} concurrent, ${count} sessions`,
        metrics,
        variants: setups.map((s) => variant('read', s)),
        targets: [{ metric: 'cyclesPerSecond', against: CONNECT_REDIS, op: '>=', ratio: 1.5, text: '>= 1.5x cycles/s' }],
      },
      {
        id: 'store-cycle/write',
        title: `Store cycle, write (get + change one key + set), ${CONCURRENCY} concurrent, ${count} sessions`,
        metrics,
        variants: setups.map((s) => variant('write', s)),
        targets: [{ metric: 'cyclesPerSecond', against: CONNECT_REDIS, op: '>=', ratio: 1.0, text: '>= 1.0x cycles/s' }],
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
  // express-session's end of request: the cookie's touch, then save (modified) or store.touch (unmodified).
  sess.touch();
  if (kind === 'write') await promisify<void>((cb) => store.set(sid, sess, cb));
  else await promisify<void>((cb) => store.touch!(sid, sess, cb as (err?: unknown) => void));
}
