/** 5. Lost updates: 200 concurrent requests of one session, each setting its own key; how many keys are kept. */
import { call, login, startHttpServer } from './servers';
import { CONNECT_REDIS, OURS } from './stores';
import type { Benchmark, Case, Context, Variant } from './types';

const REQUESTS = 200;

export const lostUpdates: Benchmark = {
  name: 'lost-updates',
  async setup(ctx: Context) {
    const servers = await Promise.all(([OURS, CONNECT_REDIS] as const).map((name) => startHttpServer(name, ctx.redis.url)));
    const variants: Variant[] = servers.map((server) => ({
      name: server.name,
      async run(round) {
        const cookie = await login(server.url);
        const replies = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => call(server.url, 'POST', `/mark/k${round}_${i}`, cookie)));
        const failed = replies.filter((r) => r.status !== 200).length;
        if (failed) throw new Error(`${server.name}: ${failed} of ${REQUESTS} requests failed`);
        const keys = JSON.parse((await call(server.url, 'GET', '/keys', cookie)).body) as string[];
        return { kept: keys.filter((k) => k.startsWith(`k${round}_`)).length };
      },
    }));
    const cases: Case[] = [
      {
        id: 'lost-updates',
        title: `${REQUESTS} concurrent requests of one session, each setting its own key: keys kept`,
        metrics: [{ key: 'kept', label: `keys kept of ${REQUESTS}`, unit: 'keys', better: 'higher' }],
        variants,
        targets: [{ metric: 'kept', against: 'value', op: '>=', ratio: REQUESTS, text: `all ${REQUESTS} kept` }],
        warmup: false,
      },
    ];
    return { cases, close: async () => void (await Promise.all(servers.map((s) => s.child.stop()))) };
  },
};
