/**
 * Gives a test file its own Redis:
 *   1. REDIS_URL, when set (shared: tests keep to their own key prefix);
 *   2. else a private `redis-server` from PATH on a free port, without persistence;
 *   3. else a Redis 7 container through testcontainers, when a Docker engine answers.
 * Fault tests ask for `{ restartable: true }`: always a private server they may stop and start.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { waitFor } from './wait';

export interface TestRedis {
  url: string;
  host: string;
  port: number;
  /** True for a private redis-server, which `stop`/`start` may take down and bring back. */
  restartable: boolean;
  /** Kills the server (as a crash would), keeping its port for `start`. */
  stop(): Promise<void>;
  /** Starts it again on the same port and waits until it answers PING. */
  start(): Promise<void>;
  /** Stops it for good. */
  close(): Promise<void>;
}

export interface StartRedisOptions {
  /** A private server the test may stop and start. */
  restartable?: boolean;
  /** Keep the data across `stop`/`start` (an append-only file synced on every write). */
  persistent?: boolean;
}

export async function startRedis({ restartable = false, persistent = false }: StartRedisOptions = {}): Promise<TestRedis> {
  const url = process.env.REDIS_URL;
  if (url && !restartable && !persistent) return external(url);
  if (hasRedisServer()) return privateServer(persistent);
  if (!restartable) return container();
  throw new Error('this test stops and restarts Redis: it needs `redis-server` on PATH (Debian: apt-get install redis-server)');
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

function external(url: string): TestRedis {
  const { hostname, port } = new URL(url);
  const refuse = () => Promise.reject(new Error('a Redis from REDIS_URL cannot be stopped by the tests'));
  return { url, host: hostname, port: Number(port || 6379), restartable: false, stop: refuse, start: refuse, close: async () => undefined };
}

async function privateServer(persistent: boolean): Promise<TestRedis> {
  const port = await freePort();
  const host = '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'live-session-redis-'));
  const persistence = persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', host, '--save', '', ...persistence, '--dir', dir], {
      stdio: 'ignore',
    });
    const exited = new Promise<never>((_, reject) => child!.once('exit', (code) => reject(new Error(`redis-server exited with ${code} on port ${port}`))));
    exited.catch(() => undefined);
    await Promise.race([waitFor(() => ping(host, port), { what: `redis-server on port ${port}` }), exited]);
  };
  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once('exit', () => resolve());
      running.kill('SIGKILL');
    });
  };
  const close = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await start();
  return { url: `redis://${host}:${port}`, host, port, restartable: true, start, stop, close };
}

async function container(): Promise<TestRedis> {
  let GenericContainer: typeof import('testcontainers').GenericContainer;
  try {
    ({ GenericContainer } = await import('testcontainers'));
  } catch (cause) {
    throw new Error('no REDIS_URL, no redis-server on PATH, and testcontainers could not be loaded', { cause });
  }
  let started;
  try {
    started = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).withCommand(['redis-server', '--save', '', '--appendonly', 'no']).start();
  } catch (cause) {
    throw new Error('no REDIS_URL, no redis-server on PATH, and Docker could not start a Redis container: set REDIS_URL or install redis-server', { cause });
  }
  const host = started.getHost();
  const port = started.getMappedPort(6379);
  const refuse = () => Promise.reject(new Error('a container Redis is not restarted by the tests'));
  return { url: `redis://${host}:${port}`, host, port, restartable: false, stop: refuse, start: refuse, close: async () => void (await started.stop()) };
}

/** True once the server answers PING. */
export function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}
