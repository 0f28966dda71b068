/**
 * `pnpm bench [--quick] [--rounds N] [--only NAME,...] [--out FILE]`
 * Starts a private redis-server, runs every benchmark in alternating rounds (ours, anchor, ours,
 * anchor...), prints each of our medians beside the anchors' with the ratio, and writes the JSON.
 */
import { startRedis } from '@live-session/test-support';
import { Redis } from 'ioredis';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { collectGarbage } from './gc';
import { cacheExactness } from './cache-exactness';
import { ceiling } from './ceiling';
import { decode } from './decode';
import { events } from './events';
import { fanout, fanoutServers } from './fanout';
import { fanoutCluster } from './fanout-cluster';
import { fanoutProcs } from './fanout-procs';
import { fanoutTransports } from './fanout-transports';
import { http } from './http';
import { lostUpdates } from './lost-updates';
import { memory } from './memory';
import { RedisMeter } from './meter';
import { median } from './stats';
import { pipelining, storeCycle } from './store-cycle';
import { userIndex } from './user-index';
import type { Benchmark, Case, Context } from './types';

const ALL: Benchmark[] = [storeCycle, cacheExactness, userIndex, events, pipelining, ceiling, decode, http, memory, lostUpdates, fanout, fanoutProcs, fanoutTransports, fanoutServers, fanoutCluster];

interface Args {
  quick: boolean;
  rounds: number;
  only?: string[];
  /** Runs only the cases whose id starts with one of these. */
  cases?: string[];
  out?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, rounds: 5 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quick') args.quick = true;
    else if (arg === '--rounds') args.rounds = Number(argv[++i]);
    else if (arg === '--only') args.only = argv[++i].split(',');
    else if (arg === '--case') args.cases = argv[++i].split(',');
    else if (arg === '--out') args.out = argv[++i];
    else if (arg === '--') continue;
    else throw new Error(`unknown argument ${arg}; usage: bench [--quick] [--rounds N] [--only ${ALL.map((b) => b.name).join(',')}] [--case ID-PREFIX,...] [--out FILE]`);
  }
  if (args.quick && !argv.includes('--rounds')) args.rounds = 2;
  if (!Number.isInteger(args.rounds) || args.rounds < 1) throw new Error('--rounds must be a whole number >= 1');
  return args;
}

export interface MetricResult {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Variant -> per-round values and their median. */
  values: Record<string, { median: number; rounds: number[] }>;
  /** Anchor -> our median / the anchor's median. */
  ratios: Record<string, number>;
}

export interface CaseResult {
  id: string;
  title: string;
  ours: string;
  anchors: string[];
  metrics: MetricResult[];
  targets: { text: string; metric: string; against: string; ratio: number; required: number; op: string; met: boolean }[];
  notes?: Record<string, unknown>;
}

/**
 * A full garbage collection, run before each variant: the variants of a round share this process,
 * and without it each pays for the garbage the one before it left (a mark-compact of the previous
 * store's old generation landing in the next store's timed run).
 */

async function runCase(c: Case, args: Args, log: (m: string) => void): Promise<CaseResult> {
  const raw: Record<string, Record<string, number[]>> = {};
  for (const v of c.variants) raw[v.name] = Object.fromEntries(c.metrics.map((m) => [m.key, []]));
  const warmup = c.warmup !== false && !args.quick;
  for (let round = warmup ? 0 : 1; round <= args.rounds; round++) {
    for (const v of c.variants) {
      collectGarbage();
      const values = await v.run(round);
      for (const m of c.metrics) {
        const value = values[m.key];
        if (round > 0) raw[v.name][m.key].push(value);
      }
      log(`  ${c.id} round ${round === 0 ? 'warm-up' : round} ${v.name}: ${c.metrics.map((m) => `${m.label} ${format(values[m.key])}`).join(', ')}`);
    }
  }
  const [ours, ...anchors] = c.variants.map((v) => v.name);
  const metrics: MetricResult[] = c.metrics.map((m) => {
    const values = Object.fromEntries(c.variants.map((v) => [v.name, { median: median(raw[v.name][m.key]), rounds: raw[v.name][m.key] }]));
    const ratios = Object.fromEntries(anchors.map((a) => [a, values[ours].median / values[a].median]));
    return { ...m, values, ratios };
  });
  const targets = (c.targets ?? []).map((t) => {
    const metric = metrics.find((m) => m.key === t.metric)!;
    let against = t.against;
    if (against === 'best') {
      const pick = metric.better === 'higher' ? Math.max : Math.min;
      const best = pick(...anchors.map((a) => metric.values[a].median));
      against = anchors.find((a) => metric.values[a].median === best)!;
    }
    const ratio = against === 'value' ? metric.values[ours].median : metric.ratios[against];
    const met = t.op === '>=' ? ratio >= t.ratio : ratio <= t.ratio;
    return { text: t.text, metric: t.metric, against, ratio, required: t.ratio, op: t.op, met };
  });
  return { id: c.id, title: c.title, ours, anchors, metrics, targets, notes: c.notes?.() };
}

export function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** A markdown table: one row per metric and anchor. */
export function table(results: CaseResult[]): string {
  const lines = ['| benchmark | metric | ours | anchor | anchor\'s | ratio ours/anchor | target |', '| --- | --- | ---: | --- | ---: | ---: | --- |'];
  for (const r of results) {
    for (const m of r.metrics) {
      for (const a of r.anchors) {
        const target = r.targets.find((t) => t.metric === m.key && (t.against === a || (t.against === 'value' && a === r.anchors[0])));
        const better = m.better === 'higher' ? 'higher is better' : 'lower is better';
        lines.push(
          `| ${r.id} | ${m.label} (${m.unit}; ${better}) | ${format(m.values[r.ours].median)} | ${a} | ${format(m.values[a].median)} | ${m.ratios[a].toFixed(2)}x | ${target ? `${target.text}: ${target.met ? 'met' : 'MISSED'}` : ''} |`,
        );
      }
    }
  }
  return lines.join('\n');
}

/** One markdown table per case: a row per variant, a column per metric (the figures the README shows). */
export function wideTables(results: CaseResult[]): string {
  return results
    .map((r) => {
      const head = `| ${r.id} | ${r.metrics.map((m) => `${m.label} (${m.unit})`).join(' | ')} |`;
      const rule = `| --- | ${r.metrics.map(() => '---:').join(' | ')} |`;
      const rows = [r.ours, ...r.anchors].map((v) => `| ${v} | ${r.metrics.map((m) => format(m.values[v].median)).join(' | ')} |`);
      const targets = r.targets.map((t) => `- ${t.text}: ${t.ratio.toFixed(2)}x against ${t.against}: ${t.met ? 'met' : 'MISSED'}`);
      return [head, rule, ...rows, ...(targets.length ? ['', ...targets] : [])].join('\n');
    })
    .join('\n\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const log = (message: string) => process.stderr.write(`${message}\n`);
  const redis = await startRedis();
  const info = new Redis(redis.url);
  const redisVersion = /redis_version:(\S+)/.exec(await info.info('server'))?.[1] ?? 'unknown';
  await info.quit();
  const meter = await RedisMeter.open(redis.url);
  const ctx: Context = { redis, quick: args.quick, runMs: args.quick ? 250 : 3000, log, meter };
  const benchmarks = ALL.filter((b) => !args.only || args.only.includes(b.name));
  const started = new Date();
  log(`live-session benchmarks: ${args.rounds} alternating rounds${args.quick ? ' (quick)' : ''}, Redis ${redisVersion} at ${redis.url}, Node ${process.version}, ${cpus().length} cores`);
  const results: CaseResult[] = [];
  const skipped: { name: string; reason: string }[] = [];
  try {
    for (const b of benchmarks) {
      log(`== ${b.name}`);
      let setup;
      try {
        setup = await b.setup(ctx);
      } catch (err) {
        if ((err as { code?: string }).code !== 'BENCH_SKIP') throw err;
        skipped.push({ name: b.name, reason: (err as Error).message });
        log(`  skipped: ${(err as Error).message}`);
        continue;
      }
      try {
        for (const c of setup.cases) {
          if (!args.cases || args.cases.some((prefix) => c.id.startsWith(prefix))) results.push(await runCase(c, args, log));
        }
      } finally {
        await setup.close();
      }
      await flush(redis.url);
    }
  } finally {
    await meter.close();
    await redis.close();
  }
  const output = {
    date: started.toISOString(),
    command: `pnpm bench ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, node: process.version, redis: redisVersion, platform: `${process.platform} ${process.arch}` },
    rounds: args.rounds,
    quick: args.quick,
    results,
    skipped,
  };
  const out = args.out ?? join(__dirname, '..', 'results', `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(output, null, 2)}\n`);
  process.stdout.write(`\n${table(results)}\n\n${wideTables(results)}\n\n`);
  for (const r of results) {
    if (r.notes) process.stdout.write(`${r.id}: ${JSON.stringify(r.notes)}\n`);
  }
  for (const s of skipped) process.stdout.write(`skipped ${s.name}: ${s.reason}\n`);
  process.stdout.write(`\nmachine: ${output.machine.cores} cores (${output.machine.cpu}), Node ${output.machine.node}, Redis ${redisVersion}; ${output.date}\nresults: ${out}\n`);
}

/** Empties Redis between benchmarks so each one starts from the same state. */
async function flush(url: string): Promise<void> {
  const client = new Redis(url);
  await client.flushall();
  await client.quit();
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
