/**
 * `npm start` stops everything on SIGINT or SIGTERM sent to the npm process (what a process manager
 * does): npm passes the signal on to its script, which must be the demo's start script itself.
 * Runs the real `npm start` (with `--no-setup`: the workspace is already built) against a private
 * Redis, on two free ports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, startRedis, waitFor, type TestRedis } from '@live-session/test-support';

const ROOT = join(__dirname, '..', '..', '..');
let redis: TestRedis;
const started: ChildProcess[] = [];

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  // A failed test leaves npm running: SIGKILL its process group (npm, a shell, the start script);
  // the servers, in groups of their own, notice their parent is gone and stop (src/server.js).
  for (const npm of started) {
    try {
      process.kill(-npm.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await redis?.close();
});

const answers = async (port: number) => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
  } catch {
    return false;
  }
};

test.each(['SIGINT', 'SIGTERM'] as const)('%s to the npm start process stops both servers and npm', async (signal) => {
  const ports = [await freePort(), await freePort()];
  const npm = spawn('npm', ['start', '--', '--no-setup', ...ports.map(String)], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: redis.url },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // a process group of its own, for the cleanup; the signal goes to npm alone
  });
  started.push(npm);
  let output = '';
  npm.stdout!.on('data', (chunk) => (output += chunk));
  npm.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => npm.once('exit', () => resolve()));

  await waitFor(async () => (await answers(ports[0])) && (await answers(ports[1])), { timeout: 60_000, what: `both servers answering\n${output}` });
  npm.kill(signal);
  await waitFor(async () => !(await answers(ports[0])) && !(await answers(ports[1])), { timeout: 15_000, what: `both ports closed\n${output}` });
  await exited;
}, 90_000);
