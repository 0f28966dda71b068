/**
 * The cart demo in a real browser (a Chromium from findBrowser, driven by playwright-core): two app servers
 * as separate processes sharing one private Redis, and ONE browser context (one cookie jar) with a
 * page on server A and a page on server B, used the way a person would.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import Redis from 'ioredis';
import { LiveSessionStore } from '@live-session/core';
import { findBrowser, freePort, startChild, startRedis, type ChildServer, type TestRedis } from '@live-session/test-support';

const SERVER = join(__dirname, '..', 'src', 'server.js');
// The README's screenshot is rewritten only on request (UPDATE_SCREENSHOT=1): every run changes its
// ports and times, and a test run must leave the work tree as it found it.
const SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1' ? join(__dirname, '..', 'screenshot.png') : join(tmpdir(), 'live-session-cart-screenshot.png');
const COOKIE = 'cart.sid';
const WAIT = { timeout: 10_000 };

let redis: TestRedis;
let client: Redis;
let store: LiveSessionStore;
let servers: ChildServer[] = [];
let urlA: string;
let urlB: string;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
  // The same `userOf` as the demo's servers (src/devices.js): every store of a prefix must agree.
  store = new LiveSessionStore({
    client,
    userOf: (s) => {
      const user: unknown = (s as unknown as { user?: unknown }).user;
      return typeof user === 'string' ? user : null;
    },
  });
  // The README's screenshot shows the ports a user gets from `npm start`; test runs take free ones.
  const [portA, portB] = process.env.UPDATE_SCREENSHOT === '1' ? [3000, 3001] : [await freePort(), await freePort()];
  const env = (name: string, port: number, peer: number) => ({
    REDIS_URL: redis.url,
    PORT: String(port),
    SERVER_NAME: name,
    PEER_PORTS: String(peer),
    SESSION_SECRET: 'browser test secret',
    HOST: '127.0.0.1',
  });
  servers = await Promise.all([startChild(SERVER, env('A', portA, portB)), startChild(SERVER, env('B', portB, portA))]);
  // Same host, two ports: browsers send the same cookie to both (cookies ignore ports).
  urlA = `http://127.0.0.1:${servers[0].info.port}/`;
  urlB = `http://127.0.0.1:${servers[1].info.port}/`;
  browser = await chromium.launch(findBrowser()); // CHROMIUM_PATH, the system's, or @sparticuz/chromium (packages/test-support)
  context = await browser.newContext({ viewport: { width: 640, height: 900 } });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.stop()));
  await client?.quit();
  await redis?.close();
});

// ---- helpers: every positive condition is waited for, never slept for

const text = (page: Page, testid: string) => page.locator(`[data-testid="${testid}"]`).first().textContent({ timeout: 2_000 });

/** Waits until the element with this data-testid shows exactly `expected` (null: until it is gone). */
async function waitText(page: Page, testid: string, expected: string | null) {
  await page.waitForFunction(
    ([id, want]) => {
      const el = document.querySelector(`[data-testid="${id}"]`);
      return want === null ? el === null : el !== null && el.textContent === want;
    },
    [testid, expected] as const,
    WAIT,
  );
}

/** The page is connected and its socket follows the browser's session. */
const following = (page: Page) => page.waitForFunction(() => document.body.dataset.live === 'following', undefined, WAIT);

/** Clicks something that submits a form (POST, 303, GET /) and waits for the page that follows. */
async function submitAndReload(page: Page, selector: string) {
  await Promise.all([page.waitForEvent('load', WAIT), page.click(selector)]);
  await following(page);
  await markLoaded(page);
}

/** A mark that a reload would wipe out: proves a change arrived live, not by loading the page again. */
const markLoaded = (page: Page) => page.evaluate(() => ((window as unknown as { loadMark: number }).loadMark = Math.random()));
const loadMark = (page: Page) => page.evaluate(() => (window as unknown as { loadMark?: number }).loadMark);

type Demo = { updates: number; destroys: number; hellos: number; following: boolean };
const demo = (page: Page) => page.evaluate(() => ({ ...(window as unknown as { cartDemo: Demo }).cartDemo }));

const setMode = (page: Page, mode: 'form' | 'live') => page.check(`[data-testid="mode-${mode}"]`);

async function sessionId(): Promise<string> {
  const cookie = (await context.cookies()).find((c) => c.name === COOKIE);
  if (!cookie) throw new Error('no session cookie');
  const signed = decodeURIComponent(cookie.value); // "s:<sid>.<signature>"
  return signed.slice(2, signed.lastIndexOf('.'));
}

test('two tabs on two servers share one live session: form and live writes, remove, login, logout', async () => {
  const a = await context.newPage();
  const b = await context.newPage();

  // Log in on A (a form POST that regenerates the session).
  await a.goto(urlA);
  await following(a);
  expect(await text(a, 'rendered-by')).toContain('server A');
  await a.fill('[data-testid="login-name"]', 'alice');
  await submitAndReload(a, '[data-testid="login"]');
  await waitText(a, 'user', 'alice');
  const sid = await sessionId();

  // B, on the other server, is the same session.
  await b.goto(urlB);
  await following(b);
  await markLoaded(b);
  expect(await text(b, 'rendered-by')).toContain('server B');
  await waitText(b, 'user', 'alice');
  await waitText(b, 'cart-empty', 'Your cart is empty.');
  const markB = await loadMark(b);

  // Add on A through the form (an HTTP request writes the session): B sees it without reloading.
  await setMode(a, 'form');
  await submitAndReload(a, '[data-testid="add-mug"]');
  await waitText(a, 'qty-mug', '1 ×');
  await waitText(b, 'qty-mug', '1 ×');

  // Add on A through the live path (a socket event, live.updateSession): no reload anywhere.
  const markA = await loadMark(a);
  await setMode(a, 'live');
  await a.click('[data-testid="add-notebook"]');
  await waitText(a, 'qty-notebook', '1 ×');
  await waitText(b, 'qty-notebook', '1 ×');
  expect(await loadMark(a)).toBe(markA);

  // Both tabs add the same product at the same moment through the live path: atomic, both count.
  await setMode(b, 'live');
  await Promise.all([a.click('[data-testid="add-socks"]'), b.click('[data-testid="add-socks"]')]);
  await waitText(a, 'qty-socks', '2 ×');
  await waitText(b, 'qty-socks', '2 ×');
  await waitText(a, 'cart-count', '4 items');
  expect(await loadMark(b)).toBe(markB); // B never reloaded: all of it arrived live

  // Remove on B, live then through the form: A sees both without reloading.
  await b.click('[data-testid="remove-mug"]');
  await waitText(b, 'qty-mug', null);
  await waitText(a, 'qty-mug', null);
  await screenshotSideBySide(a, b); // both tabs, each with the live events it received so far
  await setMode(b, 'form');
  await submitAndReload(b, '[data-testid="remove-socks"]');
  await waitText(b, 'qty-socks', '1 ×');
  await waitText(a, 'qty-socks', '1 ×');
  await waitText(a, 'cart-count', '2 items');
  await waitText(a, 'cart-total', '€27.50');
  expect(await loadMark(a)).toBe(markA);
  expect(await store.getSession(sid)).toMatchObject({ user: 'alice', cart: [{ id: 'notebook', qty: 1 }, { id: 'socks', qty: 1 }] });

  // Log out on A (destroys the session): B shows the logged-out state at once.
  const destroysBefore = (await demo(b)).destroys;
  await submitAndReload(a, '[data-testid="logout"]');
  await waitText(a, 'user-none', 'Not signed in.');
  await waitText(b, 'user-none', 'Not signed in.');
  await waitText(b, 'cart-empty', 'Your cart is empty.');
  expect((await demo(b)).destroys).toBe(destroysBefore + 1);
  expect(await store.getSession(sid)).toBeNull();

  // B's socket no longer receives the old session's updates. Let B settle first (it reconnects to
  // follow whatever session the cookie names now), then write to the old session id directly,
  // bringing it back with a cart, and then make a write that a control page on the same server B
  // must receive. Server B's one subscriber connection gets the messages in publish order, so once
  // the control page shows its write, anything B's page would have got of the old session's
  // write has been sent already.
  await b.waitForFunction(() => (window as unknown as { cartDemo: Demo }).cartDemo.hellos >= 2, undefined, WAIT);
  const settled = await demo(b);
  const shownOnB = await b.locator('#cart').innerHTML();
  const control = await (await browser.newContext()).newPage();
  try {
    await control.goto(urlB);
    await following(control);
    await waitText(control, 'cart-empty', 'Your cart is empty.');
    const controlCookie = (await control.context().cookies()).find((c) => c.name === COOKIE)!;
    const controlSid = decodeURIComponent(controlCookie.value).slice(2, decodeURIComponent(controlCookie.value).lastIndexOf('.'));

    await store.set(sid, {
      cookie: { originalMaxAge: null, httpOnly: true, path: '/' } as never,
      user: 'alice',
      cart: [{ id: 'plant', qty: 9 }],
    } as never);
    await store.putSession(controlSid, 'cart', [{ id: 'plant', qty: 1 }]);
    await waitText(control, 'qty-plant', '1 ×');

    expect(await b.locator('#cart').innerHTML()).toBe(shownOnB);
    expect(await text(b, 'user-none')).toBe('Not signed in.');
    expect(await demo(b)).toEqual(settled);
  } finally {
    await control.context().close();
    await store.destroy(sid);
  }
}, 90_000);

const FIREFOX_ANDROID = 'Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0';
const SAFARI_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

/** Opens the demo on `url` in a new page of `ctx` and logs in as `user` there. */
async function loggedIn(ctx: BrowserContext, url: string, user: string): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(url);
  await following(page);
  await page.fill('[data-testid="login-name"]', user);
  await submitAndReload(page, '[data-testid="login"]');
  await waitText(page, 'user', user);
  return page;
}

const deviceLabels = (page: Page) => page.locator('[data-testid="device-label"]').allTextContents();
const panelHidden = (page: Page) => page.waitForFunction(() => (document.getElementById('devices') as HTMLElement).hidden, undefined, WAIT);

test('"Your devices": browsers of one user see each other live; logging one out sends it to the login form', async () => {
  const viewport = { width: 640, height: 900 };
  const desktop = await browser.newContext({ viewport });
  const phone = await browser.newContext({ viewport, userAgent: FIREFOX_ANDROID });
  const laptop = await browser.newContext({ viewport, userAgent: SAFARI_MAC });
  try {
    const a = await loggedIn(desktop, urlA, 'dora');
    await waitText(a, 'device-count', '1');
    expect(await text(a, 'this-device')).toBe('this device');
    expect(await deviceLabels(a)).toEqual(['Chrome on Linux']);
    const markA = await loadMark(a);

    // The phone logs in on the other server: both list both, A without reloading.
    const b = await loggedIn(phone, urlB, 'dora');
    await waitText(b, 'device-count', '2');
    await waitText(a, 'device-count', '2');
    expect(await deviceLabels(a)).toEqual(['Chrome on Linux', 'Firefox on Android']);
    expect(await a.locator('[data-testid="device"][data-current="true"] [data-testid="device-label"]').textContent()).toBe('Chrome on Linux');
    expect(await b.locator('[data-testid="device"][data-current="true"] [data-testid="device-label"]').textContent()).toBe('Firefox on Android');
    expect(await a.locator('[data-testid="device"] small').first().textContent()).toMatch(/^signed in \d\d:\d\d:\d\d · last active \d\d:\d\d:\d\d$/);

    const c = await loggedIn(laptop, urlA, 'dora');
    await waitText(a, 'device-count', '3');
    await waitText(b, 'device-count', '3');
    expect(await loadMark(a)).toBe(markA);

    // A logs the phone out: the phone is back at the login form at once, told why.
    const before = await demo(b);
    await a.locator('[data-testid="device"]', { hasText: 'Firefox on Android' }).locator('[data-testid="device-logout"]').click();
    await waitText(b, 'user-none', 'Not signed in.');
    await panelHidden(b);
    const after = (await b.evaluate(() => ({ ...(window as unknown as { cartDemo: Demo & { lastReason?: string } }).cartDemo }))) as Demo & { lastReason?: string };
    expect(after.destroys).toBe(before.destroys + 1);
    expect(after.lastReason).toBe('revoked');
    await waitText(a, 'device-count', '2');
    await waitText(c, 'device-count', '2');

    // The laptop logs out all other devices: A is back at the login form, the laptop alone remains.
    await c.click('[data-testid="logout-others"]');
    await waitText(a, 'user-none', 'Not signed in.');
    await panelHidden(a);
    await waitText(c, 'device-count', '1');
    expect(await deviceLabels(c)).toEqual(['Safari on macOS']);
    expect((await store.sessionsOf('dora')).map((s) => s.info)).toEqual([{ device: 'Safari on macOS' }]);
    expect(await loadMark(a)).toBe(markA); // all of it arrived live

    // A revoked cookie is not usable: loading the page again shows the login form.
    await b.reload();
    await waitText(b, 'user-none', 'Not signed in.');
  } finally {
    await Promise.all([desktop.close(), phone.close(), laptop.close()]);
  }
}, 90_000);

/** The two real pages as they are now, side by side in one image, with a caption over each. */
async function screenshotSideBySide(a: Page, b: Page) {
  const [shotA, shotB] = await Promise.all([a.screenshot({ fullPage: true }), b.screenshot({ fullPage: true })]);
  const frame = (label: string, png: Buffer) =>
    `<figure><figcaption>${label}</figcaption><img src="data:image/png;base64,${png.toString('base64')}"></figure>`;
  const sheet = await context.newPage();
  await sheet.setViewportSize({ width: 1330, height: 800 });
  await sheet.setContent(`<!doctype html><html><body style="margin:0;padding:16px;background:#c9ced9;display:flex;gap:18px;font:600 15px sans-serif">
    <style>figure{margin:0} figcaption{margin:0 0 6px;color:#1d2433} img{display:block;width:640px;border-radius:6px;box-shadow:0 2px 8px #0003}</style>
    ${frame(`Tab 1 · server A · localhost:${new URL(urlA).port}`, shotA)}${frame(`Tab 2 · server B · localhost:${new URL(urlB).port}`, shotB)}
  </body></html>`);
  writeFileSync(SCREENSHOT, await sheet.screenshot({ fullPage: true }));
  await sheet.close();
}
