/**
 * One `redis-server` process on a given port (a plain server, a cluster node or a sentinel), and
 * `redis-cli` for the commands the helpers send to it. Shared by redis.ts, cluster.ts, sentinel.ts.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { ping } from './ping';
import { waitFor } from './wait';

const run = promisify(execFile);

export interface RedisProcessOptions {
  host: string;
  port: number;
  /** A config file, given as the first argument (sentinels need one they can rewrite). */
  configFile?: string;
  /** Further arguments, after `--port` and `--bind`. */
  args?: string[];
}

export interface RedisProcess {
  readonly host: string;
  readonly port: number;
  /** True between a successful `start` and `stop` (or the process dying on its own). */
  readonly running: boolean;
  /** Spawns the server and resolves once it answers PING; rejects if it exits first. */
  start(): Promise<void>;
  /** Kills it with SIGKILL, as a crash would, and resolves once it is gone. */
  stop(): Promise<void>;
}

export function redisProcess({ host, port, configFile, args = [] }: RedisProcessOptions): RedisProcess {
  let child: ChildProcess | undefined;
  const argv = [...(configFile ? [configFile] : []), '--port', String(port), '--bind', host, ...args];
  return {
    host,
    port,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async start() {
      const started = spawn('redis-server', argv, { stdio: 'ignore' });
      child = started;
      const exited = new Promise<never>((_, reject) => {
        started.once('exit', (code) => reject(new Error(`redis-server exited with ${code} on port ${port}`)));
        started.once('error', (err) => reject(new Error(`could not run redis-server (is it on PATH?): ${err.message}`)));
      });
      exited.catch(() => undefined);
      await Promise.race([waitFor(() => ping(host, port), { what: `redis-server on port ${port}` }), exited]);
    },
    async stop() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
  };
}

/** Runs one command through `redis-cli` and returns its raw output (RESP replies as redis-cli prints them). */
export async function redisCli(host: string, port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', host, '-p', String(port), ...args], { timeout: 5_000 });
  return stdout;
}
