/**
 * Writes of any size apply whole or not at all, and publish a message that stays small.
 * Lua's unpack stops at about 8,000 values: a write script that passes all its fields to one
 * command fails past that, possibly after it has already deleted fields.
 */
import { CookieClient, startRedis, type TestRedis, waitFor } from '@live-session/test-support';
import express from 'express';
import session from 'express-session';
import type { Redis } from 'ioredis';
import { once } from 'node:events';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LiveSessionStore, parseMessage } from '../src';
import { cookieJson, hashOf, rejectionOf, Resources, subscribe } from './helpers';

// Tens of megabytes and tens of thousands of keys take seconds on a busy 2-core machine.
jest.setTimeout(120_000);

const PREFIX = 'large:';
const HOUR = 60 * 60 * 1000;

let redis: TestRedis;
const resources = new Resources();
let admin: Redis;
let store: LiveSessionStore;

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  admin = resources.redis(redis);
  store = new LiveSessionStore({ client: resources.redis(redis), prefix: PREFIX, timeout: 60_000 });
});
afterAll(() => resources.closeAll());

type Dict = Record<string, unknown>;
const keyOf = (sid: string) => PREFIX + sid;
let counter = 0;
const newSid = () => `large-${++counter}`;

/** `count` keys named `<prefix>0`, `<prefix>1`, ... with distinct values. */
function keys(prefix: string, count: number, from = 0): Dict {
  const data: Dict = {};
  for (let i = from; i < from + count; i++) data[`${prefix}${i}`] = { i, tag: prefix };
  return data;
}

/** A session loaded the way express-session loads one: its save writes only what changed. */
function load(sid: string, from = store): Promise<Dict> {
  const req = { sessionID: sid } as unknown as IncomingMessage & { sessionID: string };
  return new Promise((resolve, reject) =>
    from.get(sid, (err, data) => {
      if (err || !data) return reject(err ?? new Error(`no session ${sid}`));
      resolve(from.createSession(req as never, data) as unknown as Dict);
    }),
  );
}

async function expectSession(sid: string, expected: Dict) {
  const got = (await store.get(sid)) as unknown as Dict;
  expect(got).not.toBeNull();
  const { cookie, ...data } = got;
  expect(cookie).toBeDefined();
  expect(Object.keys(data).length).toBe(Object.keys(expected).length);
  expect(data).toEqual(expected);
}

describe.each([10_000, 50_000])('a write of %i keys', (count) => {
  it('creates a new session whole (replace path)', async () => {
    const sid = newSid();
    const messages = await subscribe(resources, redis, keyOf(sid));
    await store.set(sid, { cookie: cookieJson(HOUR), ...keys('k', count) } as never);
    await expectSession(sid, keys('k', count));
    await messages.waitFor(1);
    expect(parseMessage(messages.messages[0])).toMatchObject({ version: 1 });
  });

  it('replaces an existing session whole, without a request', async () => {
    const sid = newSid();
    await store.set(sid, { cookie: cookieJson(HOUR), ...keys('old', 16) } as never);
    await store.set(sid, { cookie: cookieJson(HOUR), ...keys('old', 5), ...keys('k', count) } as never);
    await expectSession(sid, { ...keys('old', 5), ...keys('k', count) });
    // ... and back to a small one: every one of the many keys is deleted.
    await store.set(sid, { cookie: cookieJson(HOUR), small: 1 } as never);
    await expectSession(sid, { small: 1 });
    expect(await admin.hlen(keyOf(sid))).toBe(5); // small, cookie, $v, $c, $t
  });

  it('patches a session loaded by a request: adds them, then removes them', async () => {
    const sid = newSid();
    await store.set(sid, { cookie: cookieJson(HOUR), ...keys('old', 16) } as never);
    const messages = await subscribe(resources, redis, keyOf(sid));

    const first = await load(sid);
    for (let i = 5; i < 16; i++) delete first[`old${i}`];
    Object.assign(first, keys('k', count));
    await store.set(sid, first as never);
    await expectSession(sid, { ...keys('old', 5), ...keys('k', count) });

    const second = await load(sid);
    for (let i = 0; i < count; i++) delete second[`k${i}`];
    second.added = true;
    await store.set(sid, second as never);
    await expectSession(sid, { ...keys('old', 5), added: true });

    await messages.waitFor(2);
    expect(messages.parsed().map((m) => m.version)).toEqual([2, 3]);
  });

  it('over maxBytes: fails before writing anything, on a new and on an existing session', async () => {
    const limited = new LiveSessionStore({ client: admin, prefix: PREFIX, maxBytes: 100_000, timeout: 60_000 });
    const fresh = newSid();
    expect((await rejectionOf(limited.set(fresh, { cookie: cookieJson(HOUR), ...keys('k', count) } as never))).code).toBe('ERR_LIVE_SESSION_TOO_LARGE');
    expect(await admin.exists(keyOf(fresh))).toBe(0);

    const sid = newSid();
    await limited.set(sid, { cookie: cookieJson(HOUR), ...keys('old', 16) } as never);
    const before = await hashOf(admin, keyOf(sid));
    expect((await rejectionOf(limited.set(sid, { cookie: cookieJson(HOUR), ...keys('old', 5), ...keys('k', count) } as never))).code).toBe('ERR_LIVE_SESSION_TOO_LARGE');
    expect(await hashOf(admin, keyOf(sid))).toEqual(before);
  });
});

it('publishes every key of a change that fits in a message, however many commands it took', async () => {
  const roomy = new LiveSessionStore({ client: admin, prefix: PREFIX, maxMessageBytes: 1024 * 1024, timeout: 60_000 });
  const sid = newSid();
  await roomy.set(sid, { cookie: cookieJson(HOUR), ...keys('gone', 2_500) } as never);
  const messages = await subscribe(resources, redis, keyOf(sid));
  const loaded = await load(sid, roomy);
  for (let i = 0; i < 2_500; i++) delete loaded[`gone${i}`];
  Object.assign(loaded, keys('n', 2_500));
  await roomy.set(sid, loaded as never);
  await messages.waitFor(1);
  const message = parseMessage(messages.messages[0]);
  expect(message?.event).toBe('change');
  if (message?.event !== 'change') return;
  expect(message.set).toEqual(keys('n', 2_500));
  expect(message.unset.sort()).toEqual(Object.keys(keys('gone', 2_500)).sort());
});

describe('through express-session', () => {
  let url: string;
  beforeAll(async () => {
    const app = express();
    app.use(express.json({ limit: '10mb' }));
    app.use(session({ store, secret: 'large', resave: false, saveUninitialized: false, cookie: { maxAge: HOUR } }));
    // Removes body.unset's keys and sets body.set's, saving before answering (so a failed save is a 500).
    app.post('/edit', (req, res, next) => {
      const data = req.session as unknown as Dict;
      for (const key of (req.body.unset ?? []) as string[]) delete data[key];
      Object.assign(data, req.body.set);
      req.session.save((err) => (err ? next(err) : res.json({ id: req.sessionID })));
    });
    app.use((err: Error & { code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: err.code ?? err.message });
    });
    const server: Server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    resources.add(server, (s) => new Promise((resolve) => s.close(resolve)));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  it('a request that removes 100 keys and adds 4,500 succeeds, whole', async () => {
    const browser = new CookieClient(url);
    const created = await browser.post('/edit', { set: { ...keys('old', 100), kept: 'yes' } });
    expect(created.status).toBe(200);
    const sid = created.body.id as string;
    const messages = await subscribe(resources, redis, keyOf(sid));

    const edited = await browser.post('/edit', { unset: Object.keys(keys('old', 100)), set: keys('new', 4_500) });
    expect(edited.status).toBe(200);
    await expectSession(sid, { kept: 'yes', ...keys('new', 4_500) });
    await messages.waitFor(1);
    expect(messages.parsed().map((m) => m.version)).toEqual([2]);
  });
});

describe('a change message stays small whatever the session holds', () => {
  it('a 40 MB write publishes a reload message of a few bytes; the data reads back whole; the subscriber stays connected', async () => {
    const sid = newSid();
    await store.set(sid, { cookie: cookieJson(HOUR), small: 1 } as never);
    const messages = await subscribe(resources, redis, keyOf(sid));
    const blob = 'x'.repeat(40 * 1024 * 1024);
    await store.set(sid, { cookie: cookieJson(HOUR), small: 1, blob } as never);
    await messages.waitFor(1);
    expect(Buffer.byteLength(messages.messages[0])).toBeLessThan(100);
    expect(parseMessage(messages.messages[0])).toEqual({ event: 'reload', version: 2 });

    const got = (await store.getSession(sid)) as unknown as Dict;
    expect((got.blob as string).length).toBe(blob.length);
    expect(got.blob === blob).toBe(true); // not toEqual: a failure would print 40 MB

    // Redis did not drop the subscriber (its output buffer limit is 32 MB): it gets the next change.
    await store.putSession(sid, 'small', 2);
    await messages.waitFor(2);
    expect(parseMessage(messages.messages[1])).toEqual({ event: 'change', version: 3, set: { small: 2 }, unset: [] });
  });

  it('publishes a change up to maxMessageBytes and a reload past it, with the same version', async () => {
    const tight = new LiveSessionStore({ client: admin, prefix: PREFIX, maxMessageBytes: 200 });
    const sid = newSid();
    const messages = await subscribe(resources, redis, keyOf(sid));
    await tight.set(sid, { cookie: cookieJson(HOUR), a: 'x'.repeat(50) } as never);
    await tight.putSession(sid, 'b', 'y'.repeat(300));
    await tight.deleteSessionKey(sid, 'b');
    await messages.waitFor(3);
    expect(messages.parsed()).toEqual([
      { format: 1, event: 'change', version: 1, set: { a: 'x'.repeat(50) }, unset: [] },
      { format: 1, event: 'reload', version: 2 },
      { format: 1, event: 'change', version: 3, set: {}, unset: ['b'] },
    ]);
    expect(messages.messages.every((m) => Buffer.byteLength(m) <= 200)).toBe(true);

    const always = new LiveSessionStore({ client: admin, prefix: PREFIX, maxMessageBytes: 0 });
    await always.putSession(sid, 'c', 1);
    await messages.waitFor(4);
    expect(messages.parsed()[3]).toEqual({ format: 1, event: 'reload', version: 4 });
  });
});

describe('a write that times out', () => {
  it('says it may still be applied, and it is once Redis answers', async () => {
    const impatient = new LiveSessionStore({ client: admin, prefix: PREFIX, timeout: 200 });
    const sid = newSid();
    await impatient.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
    const pauser = resources.redis(redis);
    await pauser.call('CLIENT', 'PAUSE', '1500', 'WRITE'); // scripts wait: a slow write, as a huge one would be
    const error = await rejectionOf(impatient.putSession(sid, 'n', 2));
    expect(error.code).toBe('ERR_LIVE_SESSION_TIMEOUT');
    expect(error.message).toContain('may still be applied');
    await waitFor(async () => ((await store.getSession(sid)) as unknown as Dict | null)?.n === 2, { what: 'the timed-out write, applied' });
  });
});

describe('a limit that remains', () => {
  it('a value over 512 MiB as stored (proto-max-bulk-len) is refused before anything is sent', async () => {
    const sid = newSid();
    await store.set(sid, { cookie: cookieJson(HOUR), n: 1 } as never);
    const before = await hashOf(admin, keyOf(sid));
    const huge = '€'.repeat(179_000_000); // 537 MB as UTF-8 (3 bytes each), 358 MB in memory
    const error = await rejectionOf(store.set(sid, { cookie: cookieJson(HOUR), n: 2, huge } as never));
    expect(error.code).toBe('ERR_LIVE_SESSION_VALUE_TOO_LARGE');
    expect(error.message).toContain('proto-max-bulk-len');
    expect(await hashOf(admin, keyOf(sid))).toEqual(before);
  });
});
