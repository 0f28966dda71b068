/** 4. Redis memory per session (MEMORY USAGE key SAMPLES 0): our hash against connect-redis's JSON string. */
import { CONNECT_REDIS, createStore, newClient, OURS, populate, sids as makeSids, smallSession, type StoreName, twentyKeySession } from './stores';
import type { Benchmark, Case, Context, Variant } from './types';

const SAMPLE = 20;

export const memory: Benchmark = {
  name: 'memory',
  async setup(ctx: Context) {
    const client = newClient(ctx.redis.url);
    const names: StoreName[] = [OURS, CONNECT_REDIS];
    const encodings: Record<string, string> = {};
    const variant = (name: StoreName, kind: string, make: (i: number) => Record<string, unknown>): Variant => ({
      name,
      async run(round) {
        const prefix = `bench:mem:${kind}:${name}:${round}:`;
        const store = createStore(name, client, prefix);
        const sids = makeSids(SAMPLE);
        await populate(store, sids, make);
        let total = 0;
        for (const sid of sids) {
          const bytes = (await client.memory('USAGE', prefix + sid, 'SAMPLES', 0)) as number | null;
          if (!bytes) throw new Error(`no key ${prefix + sid}`);
          total += bytes;
        }
        encodings[`${kind}/${name}`] = (await client.object('ENCODING', prefix + sids[0])) as string;
        return { bytes: total / sids.length };
      },
    });
    const cases: Case[] = (
      [
        ['small', 'cookie + user + 3-item cart', smallSession],
        ['20-keys', 'cookie + 19 application keys', twentyKeySession],
      ] as const
    ).map(([kind, what, make]) => ({
      id: `memory/${kind}`,
      title: `Redis memory per session, ${what} (MEMORY USAGE SAMPLES 0, mean of ${SAMPLE} sessions)`,
      metrics: [{ key: 'bytes', label: 'bytes/session', unit: 'B', better: 'lower' }],
      variants: names.map((name) => variant(name, kind, make)),
      targets: [{ metric: 'bytes', against: CONNECT_REDIS, op: '<=', ratio: 1.2, text: '<= 1.2x' }],
      warmup: false,
      notes: () => ({ encoding: { ours: encodings[`${kind}/${OURS}`], 'connect-redis': encodings[`${kind}/${CONNECT_REDIS}`] } }),
    }));
    return { cases, close: async () => void (await client.quit()) };
  },
};
