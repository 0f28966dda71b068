/** express-session 1.19 with the store, in an express 5 app over real HTTP with cookies. */
import { startRedis, type TestRedis } from '@live-session/test-support';
import type { Redis } from 'ioredis';
import { LiveSessionStore } from '../src';
import { cookieJson, expressCookie, hashOf, monitorClient, Resources, startApp, subscribe, type TestApp } from './helpers';

const PREFIX = 'express:';
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const TOLERANCE = 5_000;

let redis: TestRedis;
const resources = new Resources();
let admin: Redis;
let storeClient: Redis;
let store: LiveSessionStore;
/** A store whose client auto-pipelines: it reads with plain commands (see store.ts, plainReads). */
let batchingClient: Redis;
let batchingStore: LiveSessionStore;

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  admin = resources.redis(redis);
  storeClient = resources.redis(redis);
  store = new LiveSessionStore({ client: storeClient, prefix: PREFIX, lifetime: 2 * HOUR });
  batchingClient = resources.redis(redis, { enableAutoPipelining: true });
  batchingStore = new LiveSessionStore({ client: batchingClient, prefix: PREFIX, lifetime: 2 * HOUR });
});
afterAll(() => resources.closeAll());

const keyOf = (sid: string) => PREFIX + sid;

/**
 * A GET on a busy machine: the clock moves on between the two Date.now() calls of express-session's
 * cookie.maxAge setter, so originalMaxAge comes out a few ms shorter on every request.
 */
async function getOnDriftingClock(browser: ReturnType<TestApp['client']>) {
  const realNow = Date.now.bind(Date);
  let skew = 0;
  const now = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + (skew += 3));
  try {
    expect(expressCookie({ maxAge: HOUR }).originalMaxAge).toBeLessThan(HOUR); // this clock does make it drift
    return await browser.get('/session');
  } finally {
    now.mockRestore();
  }
}

/** As if the session was last written or refreshed `ago` ms ago: its TTL and its recorded expiry (`$e`) both. */
async function lastUsedAgo(key: string, ago: number, maxAge = HOUR): Promise<void> {
  const expiresAt = Date.now() - ago + maxAge;
  await admin.pexpireat(key, expiresAt);
  await admin.hset(key, '$e', String(expiresAt));
}

describe('with a maxAge cookie, resave: false, saveUninitialized: false', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
  });
  afterEach(() => expect(app.errors).toEqual([]));

  it('creates a session only once it holds something, with a cookie', async () => {
    const browser = app.client();
    const untouched = await browser.get('/session');
    expect(untouched.status).toBe(200);
    expect(browser.cookie('connect.sid')).toBeUndefined();
    expect(await store.get(untouched.body.id)).toBeNull();

    const counted = await browser.post('/count');
    expect(counted.body.session.count).toBe(1);
    expect(browser.cookie('connect.sid')).toContain(counted.body.id);
    const hash = await hashOf(admin, keyOf(counted.body.id));
    expect(hash.count).toBe('1');
    // express-session derives originalMaxAge from the clock again (expires - now): a few ms short on a busy machine.
    expect(Object.keys(JSON.parse(hash.cookie))).toEqual(['m']);
    expect(JSON.parse(hash.cookie).m).toBeGreaterThan(HOUR - TOLERANCE);
    const ttl = await admin.pttl(keyOf(counted.body.id));
    expect(ttl).toBeGreaterThan(HOUR - TOLERANCE);
  });

  it('keeps a counter across requests, one per browser', async () => {
    const [alice, bob] = [app.client(), app.client()];
    for (let i = 1; i <= 5; i++) expect((await alice.post('/count')).body.session.count).toBe(i);
    expect((await bob.post('/count')).body.session.count).toBe(1);
    const { body } = await alice.get('/session');
    expect(body.session.count).toBe(5);
    expect((await hashOf(admin, keyOf(body.id))).count).toBe('5');
  });

  it('removes a key deleted from req.session', async () => {
    const browser = app.client();
    await browser.post('/set', { flash: 'saved!', keep: 1 });
    const { body } = await browser.post('/unset/flash');
    const hash = await hashOf(admin, keyOf(body.id));
    expect(hash.flash).toBeUndefined();
    expect(hash.keep).toBe('1');
  });

  it('without auto-pipelining, serves an unmodified request with one round trip: the get script refreshes, the touch sends nothing', async () => {
    const browser = app.client();
    const { body } = await browser.post('/count');
    await lastUsedAgo(keyOf(body.id), HOUR - 60_000); // so the refresh is visible
    const monitor = await monitorClient(resources, admin, storeClient);

    const read = await browser.get('/session');
    expect(read.body.session.count).toBe(1);
    expect(await monitor.names()).toEqual(['evalsha']);
    expect(await admin.pttl(keyOf(body.id))).toBeGreaterThan(HOUR - TOLERANCE); // refreshed by that one call

    // The same tap sees a modifying request: read + write, so it would see a second command.
    await browser.post('/count');
    expect(await monitor.names()).toEqual(['evalsha', 'evalsha']);
  });

  it('without auto-pipelining, keeps the touch path at one round trip when express-session\'s originalMaxAge drifts by a few ms', async () => {
    const browser = app.client();
    await browser.post('/count');
    const monitor = await monitorClient(resources, admin, storeClient);
    expect((await getOnDriftingClock(browser)).status).toBe(200);
    expect(await monitor.names()).toEqual(['evalsha']);
  });

  it('regenerate: a new id, the old session gone, the data of the new one only', async () => {
    const browser = app.client();
    const before = await browser.post('/count');
    const login = await browser.post('/login', { user: 'ada' });
    expect(login.body.id).not.toBe(before.body.id);
    expect(browser.cookie('connect.sid')).toContain(login.body.id);
    expect(await admin.exists(keyOf(before.body.id))).toBe(0);
    const hash = await hashOf(admin, keyOf(login.body.id));
    expect(hash.user).toBe('"ada"');
    expect(hash.count).toBeUndefined();
    expect((await browser.get('/session')).body.session.user).toBe('ada');
  });

  it('destroy: the session is gone and the next request starts afresh', async () => {
    const browser = app.client();
    await browser.post('/count');
    const { body: counted } = await browser.post('/count');
    expect(counted.session.count).toBe(2);
    expect((await browser.post('/logout')).body).toEqual({ ok: true });
    expect(await admin.exists(keyOf(counted.id))).toBe(0);
    const again = await browser.post('/count');
    expect(again.body.session.count).toBe(1);
    expect(again.body.id).not.toBe(counted.id);
  });

  it('reload: picks up a change made meanwhile and drops unsaved changes', async () => {
    const browser = app.client();
    const { body } = await browser.post('/set', { n: 1 });
    const held = browser.post('/hold/reload', { before: { scratch: true }, reload: true });
    await app.gates.arrived('reload');
    await store.putSession(body.id, 'fromJob', 'hello');
    app.gates.open('reload');
    const reloaded = await held;
    expect(reloaded.status).toBe(200);
    expect(reloaded.body.session).toMatchObject({ n: 1, fromJob: 'hello' });
    expect(reloaded.body.session).not.toHaveProperty('scratch');
    const hash = await hashOf(admin, keyOf(body.id));
    expect(hash.fromJob).toBe('"hello"');
    expect(hash.scratch).toBeUndefined();
  });

  it('sends no cookie for an unmodified request when not rolling', async () => {
    const browser = app.client();
    await browser.post('/count');
    const response = await fetch(`${app.url}/session`, { headers: { cookie: browser.cookieHeader } });
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual([]);
  });
});

describe('rolling: true', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp(resources, store, { cookie: { maxAge: HOUR }, rolling: true });
  });
  afterEach(() => expect(app.errors).toEqual([]));

  it('sends the cookie again on an unmodified request and extends the stored session', async () => {
    const browser = app.client();
    const { body } = await browser.post('/count');
    await lastUsedAgo(keyOf(body.id), HOUR - 60_000);
    const response = await fetch(`${app.url}/session`, { headers: { cookie: browser.cookieHeader } });
    expect(response.status).toBe(200);
    const [setCookie] = response.headers.getSetCookie();
    expect(setCookie).toContain(`connect.sid=${browser.cookie('connect.sid')}`);
    const expires = Date.parse(/Expires=([^;]+)/.exec(setCookie)![1]);
    expect(Math.abs(expires - (Date.now() + HOUR))).toBeLessThan(TOLERANCE);
    expect(await admin.pttl(keyOf(body.id))).toBeGreaterThan(HOUR - TOLERANCE);
    expect(((await response.json()) as { session: { count: number } }).session.count).toBe(1);
  });
});

describe('on a client that batches (ioredis with enableAutoPipelining): plain commands', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp(resources, batchingStore, { cookie: { maxAge: HOUR } });
  });
  afterEach(() => expect(app.errors).toEqual([]));

  it('serves an unmodified request (the touch path) with two plain commands: HGETALL, then PEXPIREAT', async () => {
    const browser = app.client();
    const { body } = await browser.post('/count');
    await lastUsedAgo(keyOf(body.id), HOUR - 60_000); // so the refresh is visible
    const monitor = await monitorClient(resources, admin, batchingClient);

    const read = await browser.get('/session');
    expect(read.body.session.count).toBe(1);
    expect(await monitor.names()).toEqual(['hgetall', 'pexpireat']);
    expect(await admin.pttl(keyOf(body.id))).toBeGreaterThan(HOUR - TOLERANCE); // refreshed by the touch

    // The same tap sees a modifying request: the read, then the write script.
    await browser.post('/count');
    expect(await monitor.names()).toEqual(['hgetall', 'evalsha']);
  });

  it("keeps the touch one PEXPIREAT (no cookie write) when express-session's originalMaxAge drifts by a few ms", async () => {
    const browser = app.client();
    await browser.post('/count');
    const monitor = await monitorClient(resources, admin, batchingClient);
    expect((await getOnDriftingClock(browser)).status).toBe(200);
    expect(await monitor.names()).toEqual(['hgetall', 'pexpireat']);
  });

  it('reads for updateSession with plain HGETALL and PTTL, then writes with the script, which refreshes the lifetime', async () => {
    const browser = app.client();
    const { body } = await browser.post('/count');
    const key = keyOf(body.id);
    await lastUsedAgo(key, HOUR - 60_000);
    const monitor = await monitorClient(resources, admin, batchingClient);

    const updated = await batchingStore.updateSession<number>(body.id, 'count', (count = 0) => count + 1);
    expect(updated).toMatchObject({ count: 2 });
    expect(await monitor.names()).toEqual(['hgetall', 'pttl', 'evalsha']);
    expect(await admin.pttl(key)).toBeGreaterThan(HOUR - TOLERANCE);
    expect((await batchingStore.getSessionState(body.id))?.version).toBe(2);
  });
});

describe('touchAfter: the expiry may lag behind the last use, by a bounded amount', () => {
  const TOUCH_AFTER = 10 * 60_000;
  let app: TestApp;
  beforeAll(async () => {
    const lazy = new LiveSessionStore({ client: batchingClient, prefix: PREFIX, lifetime: 2 * HOUR, touchAfter: TOUCH_AFTER });
    app = await startApp(resources, lazy, { cookie: { maxAge: HOUR } });
  });
  afterEach(() => expect(app.errors).toEqual([]));

  it('skips the refresh while the lag is within touchAfter, and refreshes (recording the expiry) once past it', async () => {
    const browser = app.client();
    const { body } = await browser.post('/count');
    const key = keyOf(body.id);
    const monitor = await monitorClient(resources, admin, batchingClient);
    // A script's first call is EVALSHA, refused with NOSCRIPT (which MONITOR does not show), then EVAL.
    const commands = async () => (await monitor.names()).map((name) => name.replace(/^evalsha$/, 'eval'));

    await lastUsedAgo(key, TOUCH_AFTER - 60_000);
    expect((await browser.get('/session')).body.session.count).toBe(1);
    expect(await commands()).toEqual(['hgetall']);
    // The bound: the session still lives at least maxAge - touchAfter after this use.
    expect(await admin.pttl(key)).toBeGreaterThan(HOUR - TOUCH_AFTER);
    expect(await admin.pttl(key)).toBeLessThan(HOUR - TOUCH_AFTER + 60_000 + TOLERANCE);

    await lastUsedAgo(key, TOUCH_AFTER + 60_000);
    expect((await browser.get('/session')).status).toBe(200);
    expect(await commands()).toEqual(['hgetall', 'eval']);
    expect(await admin.pttl(key)).toBeGreaterThan(HOUR - TOLERANCE);
    expect(Math.abs(Number(await admin.hget(key, '$e')) - (Date.now() + HOUR))).toBeLessThan(TOLERANCE);

    // The refresh was recorded: the next request is one HGETALL again.
    expect((await browser.get('/session')).status).toBe(200);
    expect(await commands()).toEqual(['hgetall']);
  });
});

describe('a browser-session cookie changed by "remember me", without a data change', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp(resources, store); // no maxAge: the store's lifetime applies
  });
  afterEach(() => expect(app.errors).toEqual([]));

  it('persists the new cookie and lifetime, and moves the version with a reload message (no values)', async () => {
    const browser = app.client();
    const { body } = await browser.post('/set', { user: 'ada' });
    const key = keyOf(body.id);
    const ttl = await admin.pttl(key);
    expect(ttl).toBeGreaterThan(2 * HOUR - TOLERANCE);
    expect(ttl).toBeLessThanOrEqual(2 * HOUR);
    const messages = await subscribe(resources, redis, key);

    const remembered = await browser.post('/remember', { maxAge: 30 * DAY });
    expect(remembered.status).toBe(200);
    expect(await admin.pttl(key)).toBeGreaterThan(30 * DAY - TOLERANCE);
    expect(JSON.parse((await hashOf(admin, key)).cookie).m).toBeGreaterThan(30 * DAY - TOLERANCE);

    // The next request loads the new cookie, and its read keeps the 30-day lifetime.
    const next = await browser.get('/session');
    expect(next.body.session.cookie.originalMaxAge).toBeGreaterThan(30 * DAY - TOLERANCE);
    expect(next.body.session.cookie.originalMaxAge).toBeLessThanOrEqual(30 * DAY);
    expect(Math.abs(Date.parse(next.body.session.cookie.expires) - (Date.now() + 30 * DAY))).toBeLessThan(TOLERANCE);
    expect(await admin.pttl(key)).toBeGreaterThan(30 * DAY - TOLERANCE);

    // The cookie is never published, but its change moves the version (a read from memory must
    // know it): a reload, then the data change that follows.
    await browser.post('/set', { user: 'grace' });
    await messages.waitFor(2);
    expect(messages.parsed()).toEqual([
      { format: 1, event: 'reload', version: 2 },
      { format: 1, event: 'change', version: 3, set: { user: 'grace' }, unset: [] },
    ]);
  });
});

describe('a request kept after its end (a socket keeps its handshake request)', () => {
  it('saves a change as a patch after its touch moved the expiry', async () => {
    // touchGrace 0: any time between the read and the touch moves the expiry (a slow request).
    const strict = new LiveSessionStore({ client: storeClient, prefix: PREFIX, lifetime: 2 * HOUR, touchGrace: 0 });
    const sid = `kept-request-${process.pid}`;
    await strict.set(sid, { cookie: expressCookie({ maxAge: HOUR }), count: 1 } as never);
    const req = { sessionID: sid } as unknown as Parameters<LiveSessionStore['createSession']>[0];
    const session = await new Promise<Record<string, unknown> & { touch(): void }>((resolve, reject) =>
      strict.get(sid, (err, data) => (err || !data ? reject(err ?? new Error('no session')) : resolve(strict.createSession(req, data) as never))),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    session.touch(); // express-session's end of the request: the cookie's expiry moves on
    await strict.touch(sid, session as never);
    // Later, on the same request: another writer changed a key meanwhile, then this one saves.
    await strict.putSession(sid, 'other', 'kept');
    session.count = 2;
    await strict.set(sid, session as never);
    expect(await strict.getSession(sid)).toMatchObject({ count: 2, other: 'kept' });
  });
});

describe('a direct-API write returns the session with the expiry it set', () => {
  it('takes the expiry a refreshing write set from the script, without a PTTL', async () => {
    await store.set('returns-expiry', { cookie: expressCookie({ maxAge: HOUR }), count: 1 } as never);
    const monitor = await monitorClient(resources, admin, storeClient, { scripts: true });
    const before = Date.now();

    const state = await store.putSessionState('returns-expiry', 'count', 2);
    expect(state.session).toMatchObject({ count: 2 });
    // The write moved the expiry by the refresh interval (the cookie's maxAge) from the time it ran.
    expect(state.expiresAt).toBeGreaterThanOrEqual(before + HOUR);
    expect(state.expiresAt).toBeLessThanOrEqual(Date.now() + HOUR);
    expect(Math.abs(state.expiresAt! - (Date.now() + (await admin.pttl(keyOf('returns-expiry')))))).toBeLessThan(TOLERANCE);
    const commands = await monitor.names();
    expect(commands).toContain('hgetall');
    expect(commands).not.toContain('pttl');
  });

  it('asks Redis for the PTTL of a session whose cookie fixes its expiry, which the write leaves as it is', async () => {
    const expires = new Date(Date.now() + 3 * HOUR);
    await store.set('fixed-expiry', { cookie: cookieJson(null, { expires: expires.toISOString() }), count: 1 } as never);
    const monitor = await monitorClient(resources, admin, storeClient, { scripts: true });

    const state = await store.putSessionState('fixed-expiry', 'count', 2);
    expect(state.session).toMatchObject({ count: 2 });
    expect(Math.abs(state.expiresAt! - expires.getTime())).toBeLessThan(TOLERANCE);
    expect(await monitor.names()).toContain('pttl');
  });
});
