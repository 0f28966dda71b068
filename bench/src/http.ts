/**
 * 2. HTTP: Express 5 + express-session with each store (server in a child process), autocannon in this one.
 *    Per request: Redis CPU, the server process's CPU (`/proc/<pid>/stat`), Redis commands.
 */
import autocannon from 'autocannon';
import { CPU_METRICS, metered } from './meter';
import { login, startHttpServer } from './servers';
import { CONNECT_REDIS, CONNECT_REDIS_10, OURS } from './stores';
import type { Benchmark, Case, Context, MetricDef, Variant } from './types';

const CONNECTIONS = 50;

export const http: Benchmark = {
  name: 'http',
  async setup(ctx: Context) {
    // Ours with the client setting its README recommends (judged first), then the anchors as people run them.
    const servers = await Promise.all([
      startHttpServer(OURS, ctx.redis.url, { autoPipelining: true }),
      startHttpServer(CONNECT_REDIS, ctx.redis.url),
      startHttpServer(CONNECT_REDIS_10, ctx.redis.url),
    ]);
    // One session per connection: each connection of autocannon is one browser.
    const cookies = await Promise.all(servers.map(async (s) => Promise.all(Array.from({ length: CONNECTIONS }, () => login(s.url)))));
    const commands: Record<string, Record<string, Record<string, number>>> = { read: {}, write: {} };
    const variant = (route: 'read' | 'write', i: number): Variant => ({
      name: servers[i].name,
      async run() {
        let next = 0;
        const m = await metered(
          ctx.meter,
          async () => {
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
            return { result, count: result.requests.total };
          },
          servers[i].child.process.pid,
        );
        commands[route][servers[i].name] = m.commands;
        const { result } = m.result;
        return {
          requestsPerSecond: result.requests.total / (result.duration || ctx.runMs / 1000),
          p50: result.latency.p50,
          p99: result.latency.p99,
          redisCpu: m.redisCpu,
          nodeCpu: m.nodeCpu,
          commandsPerOp: m.commandsPerOp,
        };
      },
    });
    const metrics: MetricDef[] = [
      { key: 'requestsPerSecond', label: 'req/s', unit: '/s', better: 'higher' },
      { key: 'p50', label: 'p50', unit: 'ms', better: 'lower' },
      { key: 'p99', label: 'p99', unit: 'ms', better: 'lower' },
      ...CPU_METRICS.map((m) => ({ ...m, label: m.key === 'nodeCpu' ? 'server CPU per request' : m.label.replace('per op', 'per request') })),
    ];
    const all = (route: 'read' | 'write') => servers.map((_, i) => variant(route, i));
    const cases: Case[] = [
      { id: 'http/read-mostly', title: `HTTP GET /read (session read, unmodified), ${CONNECTIONS} connections, autocannon`, metrics, variants: all('read'), notes: () => ({ commandsPerRequest: commands.read }) },
      { id: 'http/write', title: `HTTP POST /write (one key changed), ${CONNECTIONS} connections, autocannon`, metrics, variants: all('write'), notes: () => ({ commandsPerRequest: commands.write }) },
    ];
    return { cases, close: async () => void (await Promise.all(servers.map((s) => s.child.stop()))) };
  },
};
