/**
 * The complete example of packages/fastify/README.md, run as a user would paste it: its first ```ts
 * block is transpiled to CommonJS and started as its own Node process against a private Redis (only
 * `app.listen({ port: 3000 })` is swapped for a free port and a READY line), then used over HTTP.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { type ChildServer, CookieClient, freePort, startChild, startRedis, type TestRedis } from '@live-session/test-support';

const README = join(__dirname, '..', '..', 'fastify', 'README.md');
const LISTEN = 'app.listen({ port: 3000 })';

function completeExample(): string {
  const readme = readFileSync(README, 'utf8');
  const code = /```ts\n([\s\S]*?)\n```/.exec(readme.slice(readme.indexOf('## Complete example')))?.[1];
  if (!code) throw new Error('packages/fastify/README.md: no ```ts block under "## Complete example"');
  if (code.split(LISTEN).length !== 2) throw new Error(`packages/fastify/README.md: expected exactly one "${LISTEN}"`);
  const runnable = code.replace(
    LISTEN,
    "app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).then(() => console.log(`READY ${JSON.stringify({ port: process.env.PORT })}`))",
  );
  return ts.transpileModule(runnable, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } }).outputText;
}

let redis: TestRedis;
let server: ChildServer;
let dir: string;
let url: string;

beforeAll(async () => {
  redis = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'live-session-fastify-readme-'));
  const script = join(dir, 'example.cjs');
  writeFileSync(script, completeExample());
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  // The script sits outside the workspace: its require()s resolve through this package's node_modules.
  server = await startChild(script, { REDIS_URL: redis.url, SESSION_SECRET: 'fastify readme test', PORT: String(port), NODE_PATH: join(__dirname, '..', 'node_modules') });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await redis?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('login, cart, logout: the session lives in Redis and ends with the logout', async () => {
  const browser = new CookieClient(url);
  expect(await browser.post('/login', {})).toMatchObject({ status: 400 }); // the schema refuses a login without a user
  expect(await browser.post('/login', { user: 'ada' })).toMatchObject({ status: 200, body: { user: 'ada' } });
  expect(browser.cookie('connect.sid')).toMatch(/^s%3A/);
  const items = ['apple', 'pear'];
  for (const item of items) expect((await browser.post(`/cart/${item}`)).status).toBe(200);
  expect((await browser.get('/me')).body).toEqual({ user: 'ada', cart: items });

  const other = new CookieClient(url); // another browser: its own session
  expect((await other.get('/me')).body).toEqual({ user: null, cart: [] });

  expect((await browser.post('/logout')).body).toEqual({ ok: true });
  expect((await browser.get('/me')).body).toEqual({ user: null, cart: [] });
  expect(server.output()).not.toMatch(/Unhandled/);
});
