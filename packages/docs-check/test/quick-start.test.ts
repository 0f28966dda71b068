/**
 * The root README's Quick start, run as a user would paste it: its ```ts block is transpiled to
 * CommonJS and started as its own Node process against a private Redis (only `server.listen(3000)`
 * is swapped for a free port and a READY line). Real socket.io-client sockets then emit to it: one
 * without a session cookie must get an error in its ack while the server keeps running.
 */
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { CookieClient, freePort, startChild, startRedis, waitFor, type ChildServer, type TestRedis } from '@live-session/test-support';

const ROOT = join(__dirname, '..', '..', '..');
const LISTEN = 'server.listen(3000);';

/** The Quick start block of the root README, as CommonJS, listening on PORT and printing READY. */
function quickStart(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const code = /```ts\n([\s\S]*?)\n```/.exec(section)?.[1];
  if (!code) throw new Error('README.md: no ```ts block under "## Quick start"');
  if (code.split(LISTEN).length !== 2) throw new Error(`README.md Quick start: expected exactly one "${LISTEN}"`);
  const runnable = code.replace(
    LISTEN,
    "server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`READY ${JSON.stringify({ port: process.env.PORT })}`));",
  );
  return ts.transpileModule(runnable, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
}

type Reply = { ok: boolean; error?: { code: string; message: string } };

let redis: TestRedis;
let server: ChildServer;
let dir: string;
let url: string;
const sockets: ClientSocket[] = [];

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'live-session-quick-start-'));
  const script = join(dir, 'quick-start.cjs');
  writeFileSync(script, quickStart());
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // The script sits outside the workspace: its require()s resolve through this package's node_modules.
  server = await startChild(script, { REDIS_URL: redis.url, SESSION_SECRET: 'quick start test', PORT: String(port), NODE_PATH: join(__dirname, '..', 'node_modules') });
}, 60_000);

afterAll(async () => {
  for (const socket of sockets) socket.disconnect();
  await server?.stop();
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(cookie?: string): Promise<ClientSocket> {
  const socket = connect(url, { transports: ['websocket'], reconnection: false, ...(cookie ? { extraHeaders: { cookie } } : {}) });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return socket;
}

const alive = () => server.process.exitCode === null && server.process.signalCode === null;

test('a socket without a session cookie that emits gets an error in its ack; the server keeps running', async () => {
  const socket = await open();
  // Without an ack, and with junk where the item and the ack go: nothing may reach Node as unhandled.
  socket.emit('add', 'apple');
  socket.emit('add', 42, 'not a function');
  expect(await socket.timeout(10_000).emitWithAck('add', 7)).toEqual({ ok: false, error: { code: 'ERR_HANDLER', message: 'an item is a string' } });
  const reply: Reply = await socket.timeout(10_000).emitWithAck('add', 'apple');
  expect(reply).toMatchObject({ ok: false, error: { code: 'ERR_LIVE_SESSION_NOT_FOUND' } });
  // The replies come after the earlier emits' Redis round trips, and an unhandled rejection ends
  // Node before it does any more I/O: an HTTP answer now proves nothing crashed it.
  expect((await fetch(`${url}/nothing-here`)).status).toBe(404);
  expect(alive()).toBe(true);
  expect(server.output()).not.toMatch(/Unhandled|ERR_LIVE_SESSION/);
});

test('the same handler writes the cart of a socket that has a session, and every socket of it gets the change', async () => {
  const http = new CookieClient(url);
  expect((await http.post('/cart/apple')).status).toBe(302); // the HTTP path stores the session
  const socket = await open(http.cookieHeader);
  const other = await open(http.cookieHeader);
  const seen: unknown[] = [];
  other.on('live_session:update', (view: unknown) => seen.push(view));
  const reply: Reply = await socket.timeout(10_000).emitWithAck('add', 'pear');
  expect(reply).toEqual({ ok: true });
  await waitFor(() => seen.some((view) => JSON.stringify(view) === JSON.stringify({ cart: ['apple', 'pear'] })), { timeout: 10_000 });
  expect(alive()).toBe(true);
});
