/**
 * EventSource in a real browser (a Chromium from findBrowser, driven by playwright-core): pages of
 * one browser context (one cookie jar) on two app servers in separate processes sharing one
 * private Redis. What a person would see: changes from the other server, the end of the session
 * with its reason and no reconnect into it, resuming after a server restart, a forged cookie refused.
 */
import { createHmac } from 'node:crypto';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findBrowser, startRedis, type TestRedis } from '@live-session/test-support';
import { type AppServer, startServer } from './helpers';

const WAIT = { timeout: 10_000 };
let redis: TestRedis;
let A: AppServer;
let B: AppServer;
let browser: Browser;

// The browser reconnects 300 ms after a stream ends (the handler's `retry` option).
const serverEnv = (name: string, port?: number) => ({ NAME: name, RETRY: '300', ...(port ? { PORT: String(port) } : {}) });

beforeAll(async () => {
  redis = await startRedis();
  [A, B] = await Promise.all([startServer(redis.url, serverEnv('A')), startServer(redis.url, serverEnv('B'))]);
  browser = await chromium.launch(findBrowser());
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([A?.stop(), B?.stop()]);
  await redis?.close();
});

interface Recorded {
  opens: number;
  errors: number;
  readyState: number;
  lastEventId: string;
  updates: { id: string; data: Record<string, unknown> }[];
  ends: { reason: string }[];
}

/** Opens a page of `server` with an EventSource on /live recording what it gets (`closeOnEnd`: as the README's client does). */
async function follow(context: BrowserContext, server: AppServer, closeOnEnd = false): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await page.evaluate((close) => {
    const rec = { opens: 0, errors: 0, readyState: 0, lastEventId: '', updates: [] as unknown[], ends: [] as unknown[] };
    const source = new EventSource('/live');
    const w = window as unknown as { rec: typeof rec; source: EventSource };
    w.rec = rec;
    w.source = source;
    const state = () => (rec.readyState = source.readyState);
    source.addEventListener('open', () => (rec.opens++, state()));
    source.addEventListener('error', () => (rec.errors++, state()));
    source.addEventListener('update', (event: MessageEvent<string>) => {
      rec.lastEventId = event.lastEventId;
      rec.updates.push({ id: event.lastEventId, data: JSON.parse(event.data) });
    });
    source.addEventListener('end', (event: MessageEvent<string>) => {
      rec.ends.push(JSON.parse(event.data));
      if (close) source.close();
      state();
    });
  }, closeOnEnd);
  return page;
}

const recorded = (page: Page): Promise<Recorded> => page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { rec: Recorded }).rec)) as Recorded);

/** Waits until the page's recording satisfies `check` (evaluated in the page). */
async function until(page: Page, check: string): Promise<void> {
  await page.waitForFunction(`(() => { const rec = window.rec; return ${check}; })()`, undefined, WAIT);
}

async function newUser(user: string): Promise<BrowserContext> {
  const context = await browser.newContext();
  const response = await context.request.post(`${A.url}/login`, { data: { user } });
  expect(response.status()).toBe(200);
  return context;
}

test('a write on server A reaches an EventSource on server B, only what the app exposes', async () => {
  const context = await newUser('alice');
  try {
    const page = await follow(context, B);
    await until(page, `rec.updates.length === 1 && rec.updates[0].data.user === 'alice'`);

    await context.request.post(`${A.url}/set`, { data: { key: 'cart', value: ['apple'] } });
    await until(page, `rec.updates.length === 2`);

    const rec = await recorded(page);
    expect(rec.updates[1].data).toEqual({ user: 'alice', cart: ['apple'] });
    expect(Number(rec.updates[1].id.split('.')[0])).toBe(Number(rec.updates[0].id.split('.')[0]) + 1);
    expect(rec.updates.every((u) => !('secret' in u.data) && !('cookie' in u.data))).toBe(true);
    expect(rec.opens).toBe(1);
  } finally {
    await context.close();
  }
});

test('a logout on a third tab ends the EventSources on A and B with reason "logout"; the browser does not reconnect into the dead session', async () => {
  const context = await newUser('bob');
  try {
    const onA = await follow(context, A); // keeps its EventSource: the browser reconnects, and gets 204
    const onB = await follow(context, B, true); // closes it on `end`, as the README's client does
    await Promise.all([onA, onB].map((page) => until(page, `rec.updates.length === 1`)));
    const third = await context.newPage();
    await third.goto(`${A.url}/`);

    await third.evaluate(() => fetch('/logout', { method: 'POST' }).then((r) => r.status));

    await until(onB, `rec.ends.length === 1 && rec.readyState === 2`);
    // The one left open reconnects once, is answered 204, and stops for good (readyState CLOSED):
    // an error when the stream ended (reconnecting), one when the reconnect was refused.
    await until(onA, `rec.ends.length === 1 && rec.readyState === 2`);
    expect((await recorded(onA)).errors).toBe(2);
    for (const page of [onA, onB]) {
      const rec = await recorded(page);
      expect(rec.ends).toEqual([{ reason: 'logout' }]);
      expect(rec.opens).toBe(1);
      expect(rec.updates).toHaveLength(1);
    }
  } finally {
    await context.close();
  }
});

test('"log out my other devices" ends the other device\'s EventSource with reason "revoked"', async () => {
  const phone = await newUser('carol');
  const laptop = await newUser('carol');
  try {
    const onPhone = await follow(phone, B, true);
    await until(onPhone, `rec.updates.length === 1`);
    const response = await laptop.request.post(`${B.url}/logout-others`);
    expect(await response.json()).toEqual({ ok: true, n: 1 });
    await until(onPhone, `rec.ends.length === 1`);
    expect((await recorded(onPhone)).ends).toEqual([{ reason: 'revoked' }]);
  } finally {
    await Promise.all([phone.close(), laptop.close()]);
  }
});

test('after a server restart the EventSource resumes with Last-Event-ID: nothing it already had, then the view it missed', async () => {
  const context = await newUser('dave');
  try {
    const page = await follow(context, B);
    await until(page, `rec.updates.length === 1 && rec.opens === 1`);

    // Restart B with no change meanwhile: the browser reconnects and gets nothing.
    const port = B.port;
    await B.stop();
    await until(page, `rec.errors >= 1`);
    B = await startServer(redis.url, serverEnv('B', port));
    await until(page, `rec.opens === 2`);
    await context.request.post(`${A.url}/set`, { data: { key: 'cart', value: ['after restart'] } });
    await until(page, `rec.updates.length === 2`);
    let rec = await recorded(page);
    expect(rec.updates[1].data.cart).toEqual(['after restart']); // the first update since the reconnect is the new write

    // Restart B with a change made on A while it is down: the reconnect brings the current view, once.
    await B.stop();
    await until(page, `rec.errors >= 2`);
    await context.request.post(`${A.url}/set`, { data: { key: 'cart', value: ['while down', 'twice'] } });
    await context.request.post(`${A.url}/set`, { data: { key: 'cart', value: ['while down'] } });
    B = await startServer(redis.url, serverEnv('B', port));
    await until(page, `rec.opens === 3 && rec.updates.length === 3`);
    rec = await recorded(page);
    expect(rec.updates[2].data.cart).toEqual(['while down']);
    expect(Number(rec.updates[2].id.split('.')[0])).toBe(Number(rec.updates[1].id.split('.')[0]) + 2);
    await context.request.post(`${A.url}/set`, { data: { key: 'n', value: 1 } });
    await until(page, `rec.updates.length === 4`);
    expect((await recorded(page)).updates.map((u) => u.data.n)).toEqual([undefined, undefined, undefined, 1]);
  } finally {
    await context.close();
  }
});

test('a forged cookie gets no stream: the EventSource fails and stays closed', async () => {
  const real = await newUser('erin');
  const forger = await browser.newContext();
  try {
    const [cookie] = await real.cookies();
    const sid = decodeURIComponent(cookie.value).slice(2).split('.')[0];
    const forged = `s:${sid}.${createHmac('sha256', 'guessed secret').update(sid).digest('base64').replace(/=+$/, '')}`;
    await forger.addCookies([{ ...cookie, value: encodeURIComponent(forged) }]);
    const page = await follow(forger, B);
    await until(page, `rec.readyState === 2 && rec.errors === 1`);
    const rec = await recorded(page);
    expect(rec.opens).toBe(0);
    expect(rec.updates).toEqual([]);
    // The real cookie, from the same page address, is followed.
    const honest = await follow(real, B);
    await until(honest, `rec.updates.length === 1 && rec.updates[0].data.user === 'erin'`);
  } finally {
    await Promise.all([real.close(), forger.close()]);
  }
});
