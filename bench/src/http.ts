/** 2. HTTP: Express 5 + express-session with each store (server in a child process), autocannon in this one. */
import autocannon from 'autocannon';
import { login, startHttpServer } from './servers';
import { CONNECT_REDIS, OURS } from './stores';
import type { Benchmark, Case, Context, Variant } from './types';

const CONNECTIONS = 50;

export const http: Benchmark = {
  name: 'http',
  async setup(ctx: Context) {
    const servers = await Promise.all(([OURS, CONNECT_REDIS] as const).map((name) => startHttpServer(name, ctx.redis.url)));
    // One session per connection: each connection of autocannon is one browser.
    const cookies = await Promise.all(servers.map(async (s) => Promise.all(Array.from({ length: CONNECTIONS }, () => login(s.url)))));
    const variant = (route: 'read' | 'write', i: number): Variant => ({
      name: servers[i].name,
      async run() {
        let next = 0;
        const result = await autocannon({
          url: `${servers[i].url}/${route}`,
          method: route === 'read' ? 'GET' : 'POST',
          connections: CONNECTIONS,
          duration: ctx.runMs / 1000,
          setupClient: (client) => client.setHeaders({ cookie: cookies[i][next++ % CONNECTIONS] }),
        });
        if (result.errors || result.non2xx || result.timeouts) {
          throw new Error(`${servers[i].name} /${route}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`);
        }
        return { requestsPerSecond: result.requests.total / (result.duration || ctx.runMs / 1000), p50: result.latency.p50, p99: result.latency.p99 };
      },
    });
    const metrics = [
      { key: 'requestsPerSecond', label: 'req/s', unit: '/s', better: 'higher' as const },
      { key: 'p50', label: 'p50', unit: 'ms', better: 'lower' as const },
      { key: 'p99', label: 'p99', unit: 'ms', better: 'lower' as const },
    ];
    const cases: Case[] = [
      { id: 'http/read-mostly', title: `HTTP GET /read (session read, unmodified), ${CONNECTIONS} connections, autocannon`, metrics, variants: [variant('read', 0), variant('read', 1)] },
      { id: 'http/write', title: `HTTP POST /write (one key changed), ${CONNECTIONS} connections, autocannon`, metrics, variants: [variant('write', 0), variant('write', 1)] },
    ];
    return { cases, close: async () => void (await Promise.all(servers.map((s) => s.child.stop()))) };
  },
};
