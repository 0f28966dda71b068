/**
 * The demo's two live paths in one real browser (a Chromium from findBrowser, driven by
 * playwright-core): app servers A and B in separate processes share one private Redis; ONE browser
 * context (one cookie jar, one session) has the socket.io page open on A and the SSE page on B.
 * Writes from either reach both live; a logout made on a third tab reaches both.
 */
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findBrowser, startChild, startRedis, type ChildServer, type TestRedis } from '@live-session/test-support';
import Redis from 'ioredis';

const SERVER = join(__dirname, '..', 'src', 'server.js');
const WAIT = { timeout: 10_000 };

let redis: TestRedis;
let servers: ChildServer[] = [];
let urlA: string;
let urlB: string;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  redis = await startRedis();
  const env = (name: string) => ({ REDIS_URL: redis.url, PORT: '0', SERVER_NAME: name, SESSION_SECRET: 'sse browser test secret', HOST: '127.0.0.1' });
  servers = await Promise.all([startChild(SERVER, env('A')), startChild(SERVER, env('B'))]);
  urlA = `http://127.0.0.1:${servers[0].info.port}/`;
  urlB = `http://127.0.0.1:${servers[1].info.port}/`;
  browser = await chromium.launch(findBrowser());
  context = await browser.newContext({ viewport: { width: 640, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.stop()));
  await redis?.close();
});

/** Waits until the element with this data-testid shows exactly `expected` (null: until it is gone). */
async function waitText(page: Page, testid: string, expected: string | null): Promise<void> {
  await page.waitForFunction(
    ([id, want]) => {
      const el = document.querySelector(`[data-testid="${id}"]`);
      return want === null ? el === null : el !== null && el.textContent === want;
    },
    [testid, expected] as const,
    WAIT,
  );
}

/** The page follows the browser's session: the socket.io page over its socket, the SSE page over its EventSource. */
const following = (page: Page) => page.waitForFunction(() => document.body.dataset.live === 'following', undefined, WAIT);

/** A mark that a reload would wipe out: what arrives while it stays arrived live. */
const mark = (page: Page) => page.evaluate(() => ((window as unknown as { loadMark: number }).loadMark = Math.random()));
const markOf = (page: Page) => page.evaluate(() => (window as unknown as { loadMark?: number }).loadMark);

type SocketDemo = { destroys: number; lastReason?: string };
type SseDemo = { updates: number; ends: number; opens: number; lastReason: string | null; lastEventId: string | null };
const socketDemo = (page: Page) => page.evaluate(() => ({ ...(window as unknown as { cartDemo: SocketDemo }).cartDemo }));
const sseDemo = (page: Page) => page.evaluate(() => ({ ...(window as unknown as { cartSse: SseDemo }).cartSse }));

test('a socket.io tab on server A and an SSE tab on server B: both live both ways, both told of a logout on a third tab', async () => {
  // Tab 1: the socket.io page on A; log in there (a form POST that regenerates the session).
  const socketTab = await context.newPage();
  await socketTab.goto(urlA);
  await following(socketTab);
  await socketTab.fill('[data-testid="login-name"]', 'sam');
  await Promise.all([socketTab.waitForEvent('load', WAIT), socketTab.click('[data-testid="login"]')]);
  await following(socketTab);
  await waitText(socketTab, 'user', 'sam');

  // Tab 2: the SSE page on B, the same session.
  const sseTab = await context.newPage();
  await sseTab.goto(`${urlB}sse`);
  await following(sseTab);
  expect(await sseTab.locator('[data-testid="rendered-by"]').textContent()).toContain('server B');
  await waitText(sseTab, 'user', 'sam');
  const [markSocket, markSse] = [await mark(socketTab), await mark(sseTab)];

  // One subscriber connection per process, whichever transports follow: an SSE tab of the same
  // session on A (beside its socket.io tab) adds no subscription of the session's channel.
  const extra = await context.newPage();
  await extra.goto(`${urlA}sse`);
  await following(extra);
  const cookie = (await context.cookies()).find((c) => c.name === 'cart.sid')!;
  const sid = decodeURIComponent(cookie.value).slice(2, decodeURIComponent(cookie.value).lastIndexOf('.'));
  const admin = new Redis(redis.url);
  try {
    expect(await admin.pubsub('NUMSUB', `live_session:${sid}`)).toEqual([`live_session:${sid}`, 2]); // servers A and B
  } finally {
    admin.disconnect();
  }
  await extra.close();

  // A form POST on the socket.io tab (an HTTP write on A): the SSE tab on B shows it live.
  await Promise.all([socketTab.waitForEvent('load', WAIT), socketTab.click('[data-testid="add-mug"]')]);
  await following(socketTab);
  await waitText(sseTab, 'qty-mug', '1 ×');
  const [markSocket2] = [await mark(socketTab)];

  // The live socket path on A (live.updateSession): the SSE tab shows it.
  await socketTab.check('[data-testid="mode-live"]');
  await socketTab.click('[data-testid="add-notebook"]');
  await waitText(socketTab, 'qty-notebook', '1 ×');
  await waitText(sseTab, 'qty-notebook', '1 ×');

  // A write from the SSE tab (an HTTP request on B, sent with fetch): the socket.io tab on A shows it, and the SSE tab itself.
  await sseTab.click('[data-testid="add-socks"]');
  await waitText(socketTab, 'qty-socks', '1 ×');
  await waitText(sseTab, 'qty-socks', '1 ×');
  await waitText(sseTab, 'cart-count', '3 items');
  expect(await markOf(sseTab)).toBe(markSse); // the SSE tab never reloaded
  expect(await markOf(socketTab)).toBe(markSocket2);
  expect(markSocket2).not.toBe(markSocket);
  const sse = await sseDemo(sseTab);
  expect(sse.opens).toBe(1);
  expect(sse.updates).toBeGreaterThanOrEqual(4); // at connect, then mug, notebook, socks

  // Tab 3 logs out (on B): both tabs are told, each through its own transport, with the reason.
  const destroysBefore = (await socketDemo(socketTab)).destroys;
  const third = await context.newPage();
  await third.goto(urlB);
  await following(third);
  await Promise.all([third.waitForEvent('load', WAIT), third.click('[data-testid="logout"]')]);
  await waitText(third, 'user-none', 'Not signed in.');

  await waitText(socketTab, 'user-none', 'Not signed in.');
  await waitText(sseTab, 'user-none', 'Not signed in.');
  await waitText(sseTab, 'cart-empty', 'Your cart is empty.');
  expect(await socketDemo(socketTab)).toMatchObject({ destroys: destroysBefore + 1, lastReason: 'logout' });
  expect(await sseDemo(sseTab)).toMatchObject({ ends: 1, lastReason: 'logout' });
  await sseTab.waitForFunction(() => document.body.dataset.live === 'ended', undefined, WAIT);
  expect(await sseTab.locator('#notice').textContent()).toContain('logged out');
  expect(await markOf(sseTab)).toBe(markSse);
}, 90_000);
