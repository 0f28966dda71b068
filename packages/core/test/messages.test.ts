/**
 * The change messages, as a raw ioredis subscriber of `live_session:<sid>` sees them.
 * This file uses the default prefix, `live_session:`.
 */
import { startRedis, type TestRedis } from '@live-session/test-support';
import type { Redis } from 'ioredis';
import { LiveSessionStore, parseMessage } from '../src';
import { cookieJson, Resources, startApp, subscribe, type TestApp } from './helpers';

const HOUR = 60 * 60 * 1000;

let redis: TestRedis;
const resources = new Resources();
let admin: Redis;
let store: LiveSessionStore;
let app: TestApp;
let resaveApp: TestApp;
let nextSid = '';

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  admin = resources.redis(redis);
  store = new LiveSessionStore({ client: resources.redis(redis) });
  const options = { cookie: { maxAge: HOUR }, genid: () => nextSid };
  app = await startApp(resources, store, options);
  resaveApp = await startApp(resources, store, { ...options, resave: true });
});
afterAll(() => resources.closeAll());
afterEach(() => {
  expect(app.errors).toEqual([]);
  expect(resaveApp.errors).toEqual([]);
});

let counter = 0;
const freshSid = () => (nextSid = `msg-${++counter}-${process.pid}`);

describe('change messages', () => {
  it('publishes exactly one message per change, in version order, none for unchanged saves or touches, and a reload for a cookie change', async () => {
    const sid = freshSid();
    const channel = `live_session:${sid}`;
    const messages = await subscribe(resources, redis, channel);
    const browser = app.client();
    const resaveBrowser = browser.forOrigin(resaveApp.url); // the same cookie jar

    // Change 1: the session is created with two keys (the cookie is never published).
    expect((await browser.post('/set', { count: 1, flash: 'hi' })).body.id).toBe(sid);
    // No change: an unmodified request (touch path), and a resave of unchanged data.
    await browser.get('/session');
    await resaveBrowser.get('/session');
    await browser.post('/set', { count: 1 });
    // Change 2 and 3 through requests: a new value, then a removed key.
    await browser.post('/count');
    await browser.post('/unset/flash');
    // No change: a touch from outside. A cookie-only change: a reload (4), no values.
    await store.touch(sid, { cookie: cookieJson(HOUR), count: 2 } as never);
    await browser.post('/remember', { maxAge: 2 * HOUR });
    // Changes 5 to 8 through the direct API; "$v" is an application key, published under its own name.
    await store.putSession(sid, 'cart', [1]);
    await store.updateSession<number[]>(sid, 'cart', (cart = []) => [...cart, 2]);
    await store.putSession(sid, '$v', 'not the version');
    await store.deleteSessionKey(sid, 'cart');
    // No change: a putSession of the value already stored.
    await store.putSession(sid, 'count', 2);
    // Change 9: a set with no request behind it replaces the whole session (and its cookie: the
    // same, but for the drift of originalMaxAge, and so a reload).
    await store.set(sid, { cookie: cookieJson(HOUR), count: 3 } as never);
    // Destroyed by a logout.
    await browser.post('/logout');

    const expected = [
      { format: 1, event: 'change', version: 1, set: { count: 1, flash: 'hi' }, unset: [] },
      { format: 1, event: 'change', version: 2, set: { count: 2 }, unset: [] },
      { format: 1, event: 'change', version: 3, set: {}, unset: ['flash'] },
      { format: 1, event: 'reload', version: 4 },
      { format: 1, event: 'change', version: 5, set: { cart: [1] }, unset: [] },
      { format: 1, event: 'change', version: 6, set: { cart: [1, 2] }, unset: [] },
      { format: 1, event: 'change', version: 7, set: { $v: 'not the version' }, unset: [] },
      { format: 1, event: 'change', version: 8, set: {}, unset: ['cart'] },
      { format: 1, event: 'reload', version: 9 },
      { format: 1, event: 'destroy', version: 10, reason: 'logout' },
    ];
    await messages.waitFor(expected.length);
    expect(messages.parsed()).toEqual(expected);
    // Nothing else is pending: a marker published now is the next message.
    await admin.publish(channel, 'marker');
    await messages.waitFor(expected.length + 1);
    expect(messages.messages.slice(expected.length)).toEqual(['marker']);
  });

  it('publishes key names that JSON must escape as valid JSON, under the same names', async () => {
    const sid = freshSid();
    const messages = await subscribe(resources, redis, `live_session:${sid}`);
    const keys = ['quo"te', 'back\\slash', 'slash/', 'tab\tnew\nline', 'ünïcødé ✓', 'line\u2028sep', '$$dollars', ''];
    await store.set(sid, { cookie: cookieJson(HOUR) } as never);
    for (const key of keys) await store.putSession(sid, key, key);
    await store.deleteSessionKey(sid, 'quo"te');
    await messages.waitFor(keys.length + 1);
    const parsed = messages.messages.map((raw) => parseMessage(raw));
    expect(parsed.slice(0, keys.length).map((m) => m?.event === 'change' && m.set)).toEqual(keys.map((key) => ({ [key]: key })));
    expect(parsed[keys.length]).toMatchObject({ event: 'change', unset: ['quo"te'] });
    expect(Object.keys((await store.getSession(sid)) as object).sort()).toEqual(['cookie', ...keys.slice(1)].sort());
  });

  it('writes and publishes every key a save changes, each compared with its own stored value', async () => {
    const sid = freshSid();
    const messages = await subscribe(resources, redis, `live_session:${sid}`);
    const browser = app.client();
    await browser.post('/set', { a: 'x', b: 'y', c: 'z', d: 'w' });
    // The save sends a, b and d (c is unchanged): b's new value is d's stored one, d's is a's. A
    // script that compared a key with another key's stored value would skip some of them.
    await browser.post('/set', { a: 'q', b: 'w', c: 'z', d: 'x' });
    await messages.waitFor(2);
    expect(messages.parsed()[1]).toMatchObject({ event: 'change', version: 2, set: { a: 'q', b: 'w', d: 'x' }, unset: [] });
    expect(await store.getSession(sid)).toMatchObject({ a: 'q', b: 'w', c: 'z', d: 'x' });
  });

  it('gives the version of the last change with the session state', async () => {
    const sid = freshSid();
    const messages = await subscribe(resources, redis, `live_session:${sid}`);
    await store.set(sid, { cookie: cookieJson(HOUR), a: 1 } as never);
    const state = await store.putSessionState(sid, 'b', 2);
    await messages.waitFor(2);
    expect(state.version).toBe(2);
    expect(messages.parsed().map((m) => m.version)).toEqual([1, 2]);
    expect((await store.getSessionState(sid))?.version).toBe(2);
  });

  it('publishes a destroy message for each session removed by clear, and by a set with a past expiry', async () => {
    const [a, b] = [freshSid(), freshSid()];
    const [ma, mb] = [await subscribe(resources, redis, `live_session:${a}`), await subscribe(resources, redis, `live_session:${b}`)];
    await store.set(a, { cookie: cookieJson(HOUR), n: 1 } as never);
    await store.set(b, { cookie: cookieJson(HOUR), n: 1 } as never);
    await store.set(b, { cookie: { ...cookieJson(HOUR), expires: new Date(Date.now() - 1000).toISOString() }, n: 2 } as never);
    await store.clear();
    await ma.waitFor(2);
    await mb.waitFor(2);
    expect(ma.parsed()).toEqual([
      { format: 1, event: 'change', version: 1, set: { n: 1 }, unset: [] },
      { format: 1, event: 'destroy', version: 2, reason: 'revoked' },
    ]);
    expect(mb.parsed()).toEqual([
      { format: 1, event: 'change', version: 1, set: { n: 1 }, unset: [] },
      { format: 1, event: 'destroy', version: 2, reason: 'expired' },
    ]);
  });

  it('publishes nothing for writes that find no session', async () => {
    const sid = freshSid();
    const channel = `live_session:${sid}`;
    const messages = await subscribe(resources, redis, channel);
    await expect(store.putSession(sid, 'a', 1)).rejects.toMatchObject({ code: 'ERR_LIVE_SESSION_NOT_FOUND' });
    await store.touch(sid, { cookie: cookieJson(HOUR) } as never);
    await store.destroy(sid);
    await admin.publish(channel, 'marker');
    await messages.waitFor(1);
    expect(messages.messages).toEqual(['marker']);
  });
});

describe('parseMessage', () => {
  it('accepts the messages the store publishes', async () => {
    const sid = freshSid();
    const messages = await subscribe(resources, redis, `live_session:${sid}`);
    await store.set(sid, { cookie: cookieJson(HOUR), a: { deep: [1, 'x', null] }, b: true } as never);
    await store.deleteSessionKey(sid, 'b');
    await store.destroy(sid);
    await messages.waitFor(3);
    expect(messages.messages.map((raw) => parseMessage(raw))).toEqual([
      { event: 'change', version: 1, set: { a: { deep: [1, 'x', null] }, b: true }, unset: [] },
      { event: 'change', version: 2, set: {}, unset: ['b'] },
      { event: 'destroy', version: 3, reason: 'logout' },
    ]);
    expect(parseMessage(Buffer.from(messages.messages[2]))).toEqual({ event: 'destroy', version: 3, reason: 'logout' });
  });

  it('reads a destroy message without a reason (an older publisher) as a logout', () => {
    expect(parseMessage('{"format":1,"event":"destroy","version":4}')).toEqual({ event: 'destroy', version: 4, reason: 'logout' });
    expect(parseMessage('{"format":1,"event":"destroy","version":4,"reason":"revoked"}')).toEqual({ event: 'destroy', version: 4, reason: 'revoked' });
  });

  it.each([
    ['not JSON', '{"format":1,'],
    ['empty', ''],
    ['a JSON string', '"change"'],
    ['a number', '42'],
    ['null', 'null'],
    ['an array', '[1]'],
    ['another format', '{"format":2,"event":"destroy","version":1}'],
    ['no format', '{"event":"destroy","version":1}'],
    ['no version', '{"format":1,"event":"destroy"}'],
    ['a fractional version', '{"format":1,"event":"destroy","version":1.5}'],
    ['a string version', '{"format":1,"event":"destroy","version":"1"}'],
    ['an unknown event', '{"format":1,"event":"expire","version":1}'],
    ['an unknown destroy reason', '{"format":1,"event":"destroy","version":1,"reason":"bored"}'],
    ['a destroy reason that is not a string', '{"format":1,"event":"destroy","version":1,"reason":1}'],
    ['a change without set', '{"format":1,"event":"change","version":1,"unset":[]}'],
    ['a change whose set is an array', '{"format":1,"event":"change","version":1,"set":[],"unset":[]}'],
    ['a change whose set is null', '{"format":1,"event":"change","version":1,"set":null,"unset":[]}'],
    ['a change without unset', '{"format":1,"event":"change","version":1,"set":{}}'],
    ['a change whose unset holds a number', '{"format":1,"event":"change","version":1,"set":{},"unset":[1]}'],
  ])('rejects %s', (_what, raw) => {
    expect(parseMessage(raw)).toBeNull();
  });
});
