/**
 * The live transports on the same replica, per connection and per delivery: @live-session/sse and
 * @live-session/ws against the socket.io path (@live-session/socket.io), each receiving server in
 * its own process (fanout-child.ts), the writer (the store's putSession) and the clients in others,
 * in alternating rounds of one run. 500 sessions, 2 clients each (1,000 connections per transport);
 * one sequential writer (2,000 writes), 20 concurrent writers (2,000 writes each), and 20 writers
 * paced to 4,000 writes/s (20,000 writes) so that the receivers compare at one load. Per delivery:
 * the receiving server's CPU and Redis's; per connection: the receiver's heap. Every (write,
 * connection) pair is checked to arrive once, at a connection of that session.
 */
import { SSE, WS } from './transport-kinds';
import { Child, deploy, type Deployment, PER_SESSION, runPhase, stopAll } from './fanout-procs';
import { skipUnlessBuilt } from './fleet';
import { OURS } from './stores';
import type { Benchmark, Case, Context, MetricDef, Target, Variant } from './types';

const SOCKET_IO = OURS; // @live-session/socket.io's receiver in fanout-child.ts
const PACE = 4_000;

const METRICS: MetricDef[] = [
  { key: 'deliveriesPerSecond', label: 'deliveries/s', unit: '/s', better: 'higher' },
  { key: 'p50', label: 'p50 write->client', unit: 'ms', better: 'lower' },
  { key: 'p99', label: 'p99 write->client', unit: 'ms', better: 'lower' },
  { key: 'receiverCpu', label: 'receiving server CPU per delivery', unit: 'us', better: 'lower' },
  { key: 'redisCpu', label: 'Redis CPU per delivery', unit: 'us', better: 'lower' },
  { key: 'heapPerClient', label: 'receiver heap per connection', unit: 'B', better: 'lower' },
  { key: 'heapPerAddedClient', label: 'receiver heap per added connection', unit: 'B', better: 'lower' },
];

/** Issue 21's goal: each at least as good as socket.io's. */
const TARGETS: Target[] = [
  { metric: 'deliveriesPerSecond', against: SOCKET_IO, op: '>=', ratio: 1, text: 'deliveries/s >= socket.io' },
  { metric: 'p99', against: SOCKET_IO, op: '<=', ratio: 1, text: 'p99 <= socket.io' },
  { metric: 'receiverCpu', against: SOCKET_IO, op: '<=', ratio: 1, text: 'receiving CPU per delivery <= socket.io' },
  { metric: 'heapPerAddedClient', against: SOCKET_IO, op: '<=', ratio: 1, text: 'heap per added connection <= socket.io' },
];

interface Load {
  key: string;
  writers: number;
  writes: number;
  rate?: number;
  text: string;
}

export const fanoutTransports: Benchmark = {
  name: 'fanout-transports',
  async setup(ctx: Context) {
    skipUnlessBuilt();
    const sessions = ctx.quick ? 50 : 500;
    const loads: Load[] = [
      { key: 'sequential', writers: 1, writes: ctx.quick ? 100 : 2_000, text: 'one sequential writer' },
      { key: '20-writers', writers: 20, writes: ctx.quick ? 400 : 40_000, text: '20 writers x 2,000 writes' },
      { key: `20-writers-paced-${PACE}`, writers: 20, writes: ctx.quick ? 200 : 20_000, rate: PACE, text: `20 writers paced to ${PACE} writes/s in all` },
    ];
    const started: Child[] = [];
    const start = async (name: string, env: Record<string, string>, execArgv: string[] = []) => {
      const r = await Child.start(name, env, execArgv);
      started.push(r.child);
      return r;
    };
    try {
      const clients = (await start('clients', { ROLE: 'clients' })).child;
      const deployments = new Map<string, Deployment>();
      for (const [kind, transport] of [[SOCKET_IO, 'socket.io'], [SSE, 'sse'], [WS, 'ws']] as const) {
        deployments.set(kind, await deploy(ctx, start, clients, { kind, sessions, benchmark: 'fanout-transports', prefix: 'transports', writerKind: OURS, transport }));
      }
      const checks: Record<string, Record<string, { lost: number; duplicated: number; misrouted: number }>> = {};
      const variant = (kind: string, load: Load): Variant => ({
        name: kind,
        async run() {
          const d = deployments.get(kind)!;
          const { w, summary, receiverCpu, redisCpu } = await runPhase(ctx, clients, d, load.writers, load.writes, load.rate);
          const check = ((checks[load.key] ??= {})[kind] ??= { lost: 0, duplicated: 0, misrouted: 0 });
          check.lost += summary.lost;
          check.duplicated += summary.duplicated;
          check.misrouted += summary.misrouted;
          if (summary.lost || summary.duplicated || summary.misrouted) {
            ctx.log(`  fanout-transports ${kind}: ${summary.lost} lost, ${summary.duplicated} duplicated, ${summary.misrouted} misrouted deliveries`);
          }
          const heap = await d.receiver.call<number>('heap');
          return {
            deliveriesPerSecond: (summary.received / (summary.lastAt - w.start)) * 1000,
            p50: summary.p50,
            p99: summary.p99,
            receiverCpu: receiverCpu / summary.received,
            redisCpu: redisCpu / summary.received,
            heapPerClient: (heap - d.heapBefore) / (sessions * PER_SESSION),
            heapPerAddedClient: d.perAddedClient,
          };
        },
      });
      const cases: Case[] = loads.flatMap((load) =>
        [SSE, WS].map((kind) => ({
          id: `fanout-transports/${kind === SSE ? 'sse' : 'ws'}-${load.key}`,
          title: `${kind} against socket.io on the same replica: writer, receiving server and ${sessions * PER_SESSION} connections in separate processes, ${sessions} sessions, ${load.text} (${load.writes} writes)`,
          metrics: METRICS,
          variants: [variant(kind, load), variant(SOCKET_IO, load)],
          targets: load.rate ? TARGETS.slice(1) : TARGETS, // paced: deliveries/s follow the pace
          notes: () => ({ deliveryChecks: checks[load.key] }),
        })),
      );
      return { cases, close: () => stopAll(started) };
    } catch (err) {
      await stopAll(started);
      throw err;
    }
  },
};
