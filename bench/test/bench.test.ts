/**
 * Smoke test: runs every benchmark with --quick (a moment each) so they keep working. No timing
 * assertions: only that every case ran every variant and produced finite figures, positive but for
 * those that may be 0 (commands of MemoryStore, stale reads).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const EXPECTED_CASES = [
  'store-cycle/read-mostly',
  'store-cycle/write',
  'store-cycle/misses/read-mostly',
  'store-cycle/misses/write',
  'cache-exactness/stale-reads',
  'cache-exactness/del',
  'cache-exactness/flushall',
  'cache-exactness/heap',
  'user-index/read-mostly',
  'user-index/write',
  'events/read-mostly',
  'events/write',
  'events/life',
  'events/memory',
  'events/lateness',
  'pipelining/1/read-mostly',
  'pipelining/1/write',
  'pipelining/50/read-mostly',
  'pipelining/50/write',
  'ceiling/read',
  'ceiling/write-script',
  'ceiling/write',
  'ceiling/write-nothing',
  'decode/small-session',
  'http/read-mostly',
  'http/write',
  'memory/small',
  'memory/20-keys',
  'lost-updates',
  'fanout/sequential',
  'fanout/20-writers',
  'fanout-procs/sequential',
  'fanout-procs/20-writers',
  'fanout-procs/20-writers-paced-4000',
  'fanout-transports/sse-sequential',
  'fanout-transports/ws-sequential',
  'fanout-transports/sse-20-writers',
  'fanout-transports/ws-20-writers',
  'fanout-transports/sse-20-writers-paced-4000',
  'fanout-transports/ws-20-writers-paced-4000',
  'fanout-4/redis-messages',
  'fanout-cluster/redis-messages',
];

interface Output {
  quick: boolean;
  rounds: number;
  machine: { cores: number; node: string; redis: string };
  results: {
    id: string;
    ours: string;
    anchors: string[];
    metrics: { key: string; values: Record<string, { median: number; rounds: number[] }>; ratios: Record<string, number> }[];
    targets: { met: boolean; ratio: number }[];
    notes?: Record<string, unknown>;
  }[];
  skipped: { name: string }[];
}

test('every benchmark runs with --quick and reports finite positive figures', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'live-session-bench-'));
  const out = join(dir, 'results.json');
  try {
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), join(__dirname, '..', 'src', 'main.ts'), '--quick', '--out', out], {
        cwd: join(__dirname, '..'),
        env: { ...process.env, TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      child.on('exit', (code) => resolve({ code, output }));
    });
    if (code !== 0) throw new Error(`bench --quick exited with ${code}:\n${output}`);
    expect(output).toContain('| benchmark | metric | ours |');

    const result = JSON.parse(readFileSync(out, 'utf8')) as Output;
    expect(result.quick).toBe(true);
    expect(result.skipped).toEqual([]);
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.results.map((r) => r.id)).toEqual(EXPECTED_CASES);
    for (const r of result.results) {
      // The cache's exactness figures have no anchor: nothing else serves reads from memory with a promise.
      if (!r.id.startsWith('cache-exactness/')) expect(r.anchors.length).toBeGreaterThan(0);
      for (const metric of r.metrics) {
        const mayBeZero = metric.key === 'commandsPerOp' || metric.key === 'stale';
        for (const variant of [r.ours, ...r.anchors]) {
          const { median, rounds } = metric.values[variant];
          expect(rounds).toHaveLength(result.rounds);
          for (const value of [median, ...rounds]) {
            if (!(Number.isFinite(value) && (value > 0 || (mayBeZero && value === 0)))) throw new Error(`${r.id} ${metric.key} ${variant}: ${value}`);
          }
        }
        // A ratio against an anchor that sent no command (MemoryStore) is infinite.
        for (const ratio of Object.values(metric.ratios)) expect(ratio > 0 || (mayBeZero && !(ratio > 0))).toBe(true);
      }
      for (const target of r.targets) expect(typeof target.met).toBe('boolean');
    }
    // Separate processes: every (write, socket) pair delivered once, to a socket of its session.
    for (const id of ['fanout-procs/sequential', 'fanout-procs/20-writers', 'fanout-procs/20-writers-paced-4000', 'fanout-transports/sse-20-writers', 'fanout-transports/ws-sequential']) {
      const checks = result.results.find((r) => r.id === id)!.notes!.deliveryChecks as Record<string, { lost: number; duplicated: number; misrouted: number }>;
      expect(Object.keys(checks)).toHaveLength(3);
      for (const c of Object.values(checks)) expect([c.lost, c.duplicated, c.misrouted]).toEqual([0, 0, 0]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 600_000);
