/**
 * Live fan-out with the writer, the receiving socket.io server and the clients in separate processes
 * (fanout-child.ts, forked, on loopback), so a receiving server that cannot keep up shows: 500 sessions,
 * 2 socket.io-clients each (1,000), alternating rounds of ours / classic adapter / sharded adapter
 * "dynamic"; one sequential writer (2,000 writes), 20 concurrent writers (2,000 writes each), and 20
 * writers paced to 4,000 writes/s in all (20,000 writes), so that the receivers compare at one load.
 * Per delivery: the receiving server's CPU (its process.cpuUsage) and Redis's CPU; the writer's CPU per
 * write; heap per connected client (the receiver's heapUsed after a full GC, against before the clients
 * connected). Every (write, socket) pair is checked to arrive once, at a socket of that session.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import { CLASSIC, SHARDED, skipUnlessBuilt } from './fleet';
import { RedisMeter } from './meter';
import { OURS, sids as makeSids } from './stores';
import type { Benchmark, Case, Context, MetricDef, Variant } from './types';

/** A forked process answering commands over IPC. */
export class Child {
  private next = 0;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private output = '';

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.stderr!.on('data', (chunk) => (this.output = (this.output + chunk).slice(-20_000)));
    child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(`${name}: ${m.error}`));
      else p.resolve(m.result);
    });
    child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`${name} exited with ${code}:\n${this.output}`));
      this.pending.clear();
    });
  }

  static start(name: string, env: Record<string, string>, execArgv: string[] = []): Promise<{ child: Child; ready: Record<string, unknown> }> {
    const child = fork(join(__dirname, 'fanout-child.ts'), [], {
      execArgv: ['-r', require.resolve('ts-node/register/transpile-only'), '--expose-gc', ...execArgv],
      env: { ...process.env, ...env, TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json') },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    const wrapped = new Child(name, child);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready within 60 s:\n${wrapped.output}`)), 60_000);
      child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready:\n${wrapped.output}`)));
      child.once('message', (m: { ready?: Record<string, unknown> }) => {
        clearTimeout(timer);
        resolve({ child: wrapped, ready: m.ready ?? {} });
      });
    });
  }

  call<T>(cmd: string, args: unknown = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, cmd, args });
    });
  }

  /** Kills the process; `gently`, asks it to exit, so that a --cpu-prof profile is written. */
  stop(gently = false): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once('exit', () => resolve());
      if (gently) this.child.send({ id: -1, cmd: 'exit' });
      else this.child.kill('SIGKILL');
    });
  }
}

export interface Summary {
  received: number;
  lost: number;
  duplicated: number;
  misrouted: number;
  p50: number;
  p99: number;
  lastAt: number;
}

const KINDS = [OURS, CLASSIC, SHARDED] as const;
/**
 * FANOUT_PROFILE_DIR=<dir>: each receiver runs under --cpu-prof and writes its profile there when the
 * benchmark ends (CPU-<date>.<pid>...cpuprofile; the pids are logged with the kinds).
 */
const PROFILE_DIR = process.env.FANOUT_PROFILE_DIR;
export const PER_SESSION = 2;
/** The paced case's writes per second (all writers): about half of what the slowest writer managed unpaced. */
const PACE = 4_000;

/** A case's name: sequential, 20-writers, or 20-writers-paced-4000. */
function caseKey(writers: number, rate?: number): string {
  if (writers === 1) return 'sequential';
  return rate ? `${writers}-writers-paced-${rate}` : `${writers}-writers`;
}

export const fanoutProcs: Benchmark = {
  name: 'fanout-procs',
  async setup(ctx: Context) {
    skipUnlessBuilt();
    const sessions = ctx.quick ? 50 : 500;
    const sequentialWrites = ctx.quick ? 100 : 2_000;
    const perWriter = ctx.quick ? 20 : 2_000;
    const pacedWrites = ctx.quick ? 200 : 20_000;
    const started: Child[] = [];
    const start = async (name: string, env: Record<string, string>, execArgv: string[] = []) => {
      const r = await Child.start(name, env, execArgv);
      started.push(r.child);
      return r;
    };
    try {
      const clients = (await start('clients', { ROLE: 'clients' })).child;
      const deployments = new Map<string, Deployment>();
      for (const kind of KINDS) {
        deployments.set(kind, await deploy(ctx, start, clients, { kind, sessions, benchmark: 'fanout-procs', prefix: 'procs' }));
      }
      const phase = (kind: string, writers: number, writes: number, rate?: number) => runPhase(ctx, clients, deployments.get(kind)!, writers, writes, rate);

      const checks: Record<string, Record<string, { lost: number; duplicated: number; misrouted: number; lastDeliveryAfterLastWriteMs: number[] }>> = {};
      const variant = (kind: string, writers: number, rate?: number): Variant => ({
        name: kind,
        async run() {
          const d = deployments.get(kind)!;
          const writes = writers === 1 ? sequentialWrites : rate ? pacedWrites : writers * perWriter;
          const { w, summary, receiverCpu, redisCpu } = await phase(kind, writers, writes, rate);
          const check = ((checks[caseKey(writers, rate)] ??= {})[kind] ??= { lost: 0, duplicated: 0, misrouted: 0, lastDeliveryAfterLastWriteMs: [] });
          check.lost += summary.lost;
          check.duplicated += summary.duplicated;
          check.misrouted += summary.misrouted;
          check.lastDeliveryAfterLastWriteMs.push(Math.round(summary.lastAt - w.end));
          if (summary.lost || summary.duplicated || summary.misrouted) {
            ctx.log(`  fanout-procs ${kind}: ${summary.lost} lost, ${summary.duplicated} duplicated, ${summary.misrouted} misrouted deliveries`);
          }
          const heap = await d.receiver.call<number>('heap');
          const received = summary.received;
          return {
            deliveriesPerSecond: (received / (summary.lastAt - w.start)) * 1000,
            writesPerSecond: (writes / (w.end - w.start)) * 1000,
            p50: summary.p50,
            p99: summary.p99,
            receiverCpu: receiverCpu / received,
            redisCpu: redisCpu / received,
            writerCpu: w.cpu / writes,
            heapPerClient: (heap - d.heapBefore) / (sessions * PER_SESSION),
            heapPerAddedClient: d.perAddedClient,
          };
        },
      });
      const metrics: MetricDef[] = [
        { key: 'deliveriesPerSecond', label: 'deliveries/s', unit: '/s', better: 'higher' },
        { key: 'writesPerSecond', label: 'writes/s (writer)', unit: '/s', better: 'higher' },
        { key: 'p50', label: 'p50 write->client', unit: 'ms', better: 'lower' },
        { key: 'p99', label: 'p99 write->client', unit: 'ms', better: 'lower' },
        { key: 'receiverCpu', label: 'receiving server CPU per delivery', unit: 'us', better: 'lower' },
        { key: 'redisCpu', label: 'Redis CPU per delivery', unit: 'us', better: 'lower' },
        { key: 'writerCpu', label: 'writer CPU per write', unit: 'us', better: 'lower' },
        { key: 'heapPerClient', label: 'receiver heap per client', unit: 'B', better: 'lower' },
        { key: 'heapPerAddedClient', label: 'receiver heap per added client', unit: 'B', better: 'lower' },
      ];
      const targets = [
        { metric: 'deliveriesPerSecond', against: 'best', op: '>=' as const, ratio: 1, text: 'deliveries/s >= the better anchor' },
        { metric: 'p99', against: 'best', op: '<=' as const, ratio: 1, text: 'p99 <= the better anchor' },
        { metric: 'receiverCpu', against: 'best', op: '<=' as const, ratio: 1, text: 'receiving CPU per delivery <= the better anchor' },
        { metric: 'redisCpu', against: 'best', op: '<=' as const, ratio: 1, text: 'Redis CPU per delivery <= the better anchor' },
      ];
      const cases: Case[] = [
        ...[1, 20].map((writers) => ({
          id: `fanout-procs/${caseKey(writers)}`,
          title: `Writer, receiving server and ${sessions * PER_SESSION} clients in separate processes, ${sessions} sessions, ${writers === 1 ? `one sequential writer, ${sequentialWrites} writes` : `${writers} writers x ${perWriter} writes`}`,
          metrics,
          variants: KINDS.map((k) => variant(k, writers)),
          targets,
          notes: () => ({ deliveryChecks: checks[caseKey(writers)] }),
        })),
        {
          // Every writer at the same pace, below what each can do: the latencies compare receivers, not writers.
          id: `fanout-procs/${caseKey(20, PACE)}`,
          title: `The same, 20 writers paced to ${PACE} writes/s in all (${pacedWrites} writes): receivers compared at the same load`,
          metrics,
          variants: KINDS.map((k) => variant(k, 20, PACE)),
          targets: targets.slice(1), // deliveries/s follow the pace
          notes: () => ({ deliveryChecks: checks[caseKey(20, PACE)] }),
        },
      ];
      return { cases, close: () => stopAll(started) };
    } catch (err) {
      await stopAll(started);
      throw err;
    }
  },
};

/** A writer and a receiver of one kind, with `sessions` x PER_SESSION clients connected to the receiver. */
export interface Deployment {
  tag: string;
  writer: Child;
  receiver: Child;
  heapBefore: number;
  /** The receiver's heap per client of the second half connected (what one more client costs). */
  perAddedClient: number;
  /** The next write's seq. */
  seq: number;
}

/**
 * Starts the writer and the receiver of `kind` (the writer writes with `writerKind`, default `kind`),
 * stores `sessions` sessions, connects their clients (over `transport`) in two halves, and waits
 * until a write to every session reaches every client.
 */
export async function deploy(
  ctx: Context,
  start: (name: string, env: Record<string, string>, execArgv?: string[]) => Promise<{ child: Child; ready: Record<string, unknown> }>,
  clients: Child,
  { kind, sessions, benchmark, prefix, writerKind = kind, transport }: { kind: string; sessions: number; benchmark: string; prefix: string; writerKind?: string; transport?: string },
): Promise<Deployment> {
  const env = { REDIS_URL: ctx.redis.url, PREFIX: `bench:${prefix}:${kind.replace(/\W+/g, '-')}:` };
  const writer = (await start(`writer ${kind}`, { ...env, KIND: writerKind, ROLE: 'writer' })).child;
  const profile = PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const { child: receiver, ready } = await start(`receiver ${kind}`, { ...env, KIND: kind, ROLE: 'receiver' }, profile);
  if (PROFILE_DIR) ctx.log(`${benchmark}: ${kind}: receiver pid ${String(ready.pid)} profiled into ${PROFILE_DIR}`);
  const sids = makeSids(sessions);
  await writer.call('populate', { sids });
  const heapBefore = await receiver.call<number>('heap');
  // In two halves: the second half's heap is what more clients cost, without the code the
  // first connections compiled (which "heap per client" divides among all of them).
  const half = sessions / 2;
  await clients.call('connect', { tag: kind, port: ready.port, sids: sids.slice(0, half), perSession: PER_SESSION, sessions, transport });
  const heapHalf = await receiver.call<number>('heap');
  await clients.call('connect', { tag: kind, port: ready.port, sids: sids.slice(half), perSession: PER_SESSION, offset: half, sessions, transport });
  const perAddedClient = ((await receiver.call<number>('heap')) - heapHalf) / ((sessions - half) * PER_SESSION);
  const d: Deployment = { tag: kind, writer, receiver, heapBefore, perAddedClient, seq: 1 };
  // Ready once a write to every session reaches every client (the sharded adapter subscribes a room
  // in the background after the socket joined).
  for (let attempt = 0; ; attempt++) {
    const r = await runPhase(ctx, clients, d, 1, sessions);
    if (r.summary.lost === 0) break;
    if (attempt === 5) throw new Error(`${kind}: ${r.summary.lost} deliveries never arrived while warming up`);
  }
  ctx.log(`${benchmark}: ${kind}: writer, receiver and ${sessions * PER_SESSION} clients in separate processes`);
  return d;
}

/** One measured phase: `writes` writes by `writers` loops (paced to `rate` writes/s), every delivery awaited. */
export async function runPhase(ctx: Context, clients: Child, d: Deployment, writers: number, writes: number, rate?: number) {
  const first = d.seq;
  d.seq += writes;
  await clients.call('reset', { tag: d.tag, first, writes, perSession: PER_SESSION });
  const redisBefore = await ctx.meter.sample();
  const cpuBefore = await d.receiver.call<number>('cpu');
  const w = await d.writer.call<{ start: number; end: number; cpu: number }>('run', { writers, writes, first, rate });
  const summary = await clients.call<Summary>('wait', { tag: d.tag, ms: 60_000 });
  const cpuAfter = await d.receiver.call<number>('cpu');
  const redis = RedisMeter.delta(redisBefore, await ctx.meter.sample());
  return { w, summary, receiverCpu: cpuAfter - cpuBefore, redisCpu: redis.redisCpuUs };
}

export async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.stop(PROFILE_DIR !== undefined && c.name.startsWith('receiver'))));
}
