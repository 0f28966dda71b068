/**
 * CPU and command counters around a timed run: what each benchmark divides by its operations.
 *   Redis CPU: user + system CPU time of the redis-server process, from INFO cpu (`used_cpu_user` +
 *              `used_cpu_sys`: getrusage of the whole process, the same counter as utime + stime of
 *              `/proc/<pid>/stat`, but in microseconds where /proc counts 10 ms clock ticks, too coarse for
 *              the few thousand operations of a fan-out phase).
 *   Node CPU:  `process.cpuUsage()` of this process, or `/proc/<pid>/stat` of a child process.
 *   Commands:  the `calls` of every `cmdstat_*` line of INFO commandstats (the meter's own INFO removed).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ; 100 on Linux). */
const TICKS = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU time (user + system) a process has used so far, in microseconds, from /proc/<pid>/stat. */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 (utime) and 15 (stime) of the whole line are 12 and 13 after the name.
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS;
}

export interface Sample {
  redisCpuUs: number;
  commands: Map<string, number>;
}

export interface Delta {
  /** Redis CPU over the run, us. */
  redisCpuUs: number;
  /** Calls per command over the run. */
  commands: Record<string, number>;
  /** All calls over the run. */
  totalCommands: number;
}

/** Reads Redis's counters; one connection of its own. */
export class RedisMeter {
  private constructor(private readonly client: Redis) {}

  static async open(url: string): Promise<RedisMeter> {
    return new RedisMeter(new Redis(url, { maxRetriesPerRequest: 1 }));
  }

  async sample(): Promise<Sample> {
    const text = (await this.client.call('INFO', 'cpu', 'commandstats')) as string;
    const cpu = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1]);
    const redisCpuUs = (cpu('used_cpu_user') + cpu('used_cpu_sys')) * 1e6;
    if (!Number.isFinite(redisCpuUs)) throw new Error('INFO cpu of the Redis under test has no used_cpu_user / used_cpu_sys');
    const commands = new Map<string, number>();
    for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) commands.set(match[1], Number(match[2]));
    return { redisCpuUs, commands };
  }

  /**
   * Waits until Redis has run no command for 50 ms (deadline 5 s): a server in another process may
   * still be answering requests its load generator has given up on.
   */
  async settle(): Promise<void> {
    const deadline = performance.now() + 5_000;
    let last = RedisMeter.delta({ redisCpuUs: 0, commands: new Map() }, await this.sample()).totalCommands;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const now = RedisMeter.delta({ redisCpuUs: 0, commands: new Map() }, await this.sample()).totalCommands;
      if (now === last) return;
      last = now;
    }
  }

  /** What happened between two samples; the meter's own INFO calls are not counted. */
  static delta(before: Sample, after: Sample): Delta {
    const commands: Record<string, number> = {};
    let totalCommands = 0;
    for (const [name, calls] of after.commands) {
      if (name === 'info') continue;
      const n = calls - (before.commands.get(name) ?? 0);
      if (n > 0) {
        commands[name] = n;
        totalCommands += n;
      }
    }
    return { redisCpuUs: after.redisCpuUs - before.redisCpuUs, commands, totalCommands };
  }

  close(): Promise<unknown> {
    return this.client.quit();
  }
}

/** Commands per operation, largest first, as `evalsha 1.00, expire 1.00`. */
export function perOp(commands: Record<string, number>, ops: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(commands)
      .sort((a, b) => b[1] - a[1])
      .map(([name, n]) => [name, Math.round((n / ops) * 100) / 100]),
  );
}

/**
 * Runs `run` between two samples of Redis and of this process's CPU (or of the child `childPid`'s). `run` returns how many operations
 * it did; the result is per operation.
 */
export async function metered<T extends { count: number }>(meter: RedisMeter, run: () => Promise<T>, childPid?: number) {
  // A child process's run may leave work behind: wait for it before and after (its cost stays in the run).
  if (childPid !== undefined) await meter.settle();
  const before = await meter.sample();
  const nodeBefore = childPid === undefined ? process.cpuUsage() : undefined;
  const childBefore = childPid === undefined ? 0 : processCpuUs(childPid);
  const result = await run();
  if (childPid !== undefined) await meter.settle();
  const node =  nodeBefore ? process.cpuUsage(nodeBefore) : undefined;
  const nodeUs = node ? node.user + node.system : processCpuUs(childPid!) - childBefore;
  const after = await meter.sample();
  const delta = RedisMeter.delta(before, after);
  return {
    result,
    redisCpu: delta.redisCpuUs / result.count,
    nodeCpu: nodeUs / result.count,
    commandsPerOp: delta.totalCommands / result.count,
    commands: perOp(delta.commands, result.count),
  };
}

/** The metric definitions every CPU-measuring case shares. */
export const CPU_METRICS = [
  { key: 'redisCpu', label: 'Redis CPU per op', unit: 'us', better: 'lower' as const },
  { key: 'nodeCpu', label: 'Node CPU per op', unit: 'us', better: 'lower' as const },
  { key: 'commandsPerOp', label: 'Redis commands per op', unit: 'cmd', better: 'lower' as const },
];
