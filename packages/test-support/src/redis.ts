/**
 * Gives a test file its own Redis:
 *   1. REDIS_URL, when set (shared: tests keep to their own key prefix);
 *   2. else a private `redis-server` from PATH on a free port, without persistence;
 *   3. else a Redis 7 container through testcontainers, when a Docker engine answers.
 * Fault tests ask for `{ restartable: true }`: always a private server they may stop and start.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { redisProcess } from './redis-process';

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
  /** More redis-server arguments (e.g. `--rename-command CONFIG ""`): a private server, never REDIS_URL's. */
  args?: readonly string[];
}

export async function startRedis({ restartable = false, persistent = false, args = [] }: StartRedisOptions = {}): Promise<TestRedis> {
  const url = process.env.REDIS_URL;
  if (url && !restartable && !persistent && args.length === 0) return external(url);
  if (hasRedisServer()) return privateServer(persistent, args);
  if (args.length > 0) throw new Error(`this test needs a redis-server started with ${args.join(' ')}: it needs \`redis-server\` on PATH`);
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

async function privateServer(persistent: boolean, args: readonly string[]): Promise<TestRedis> {
  const port = await freePort();
  const host = '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'live-session-redis-'));
  const persistence = persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const server = redisProcess({ host, port, args: ['--save', '', ...persistence, '--dir', dir, ...args] });
  const close = async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await server.start();
  return { url: `redis://${host}:${port}`, host, port, restartable: true, start: () => server.start(), stop: () => server.stop(), close };
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
