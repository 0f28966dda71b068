/**
 * What the plugin refuses: cookies it did not sign (forged, unsigned, tampered), options that mean
 * nothing, and store failures, which reach Fastify's error handling. Refusing loses nothing: the
 * session a bad cookie names is left as it was.
 */
import { LiveSessionStore } from '@live-session/core';
import { createTestClient, startRedis, type TestClient, type TestRedis, waitFor } from '@live-session/test-support';
import signature from 'cookie-signature';
import Fastify from 'fastify';
import { fastifyLiveSession, type FastifyLiveSessionOptions } from '../src';
import { hashOf, newStore, Resources, SECRET, startFastify, type TestApp } from './helpers';

const prefix = 'fastify-bad-input:';
const resources = new Resources();
let redis: TestRedis;
let client: TestClient;
let store: LiveSessionStore;
let app: TestApp;

beforeAll(async () => {
  redis = resources.add(await startRedis(), (r) => r.close());
  client = await resources.client('ioredis', redis);
  store = newStore(client, { prefix });
  app = await startFastify(resources, store);
});
afterAll(() => resources.closeAll());

async function get(url: string, cookie?: string) {
  const response = await fetch(`${url}/session`, { headers: cookie === undefined ? {} : { cookie } });
  return { status: response.status, setCookie: response.headers.getSetCookie(), body: (await response.json()) as { id: string; session: Record<string, unknown> | null; error?: string } };
}

describe('a session cookie the servers did not sign', () => {
  let sid: string;
  let stored: Record<string, string>;
  beforeAll(async () => {
    const browser = app.client();
    sid = (await browser.post('/login', { user: 'ada' })).body.id;
    stored = await hashOf(client, prefix + sid);
  });
  afterEach(async () => {
    expect(app.errors).toEqual([]);
    expect(await hashOf(client, prefix + sid)).toEqual(stored); // the real session is untouched
  });

  const signed = (value: string, secret = SECRET) => `connect.sid=${encodeURIComponent(`s:${signature.sign(value, secret)}`)}`;

  it.each([
    ['signed with another secret', () => signed(sid, 'not the secret')],
    ['that is unsigned (the bare id)', () => `connect.sid=${sid}`],
    ['that is unsigned with the s: prefix', () => `connect.sid=${encodeURIComponent(`s:${sid}`)}`],
    ['with a tampered signature', () => signed(sid).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))],
    ['whose signature is moved to another id', () => signed(sid).replace(encodeURIComponent(sid), encodeURIComponent(`${sid}x`))],
    ['that is empty', () => 'connect.sid='],
    ['that is a lone s:', () => 'connect.sid=s%3A'],
    ['with a bad percent-encoding', () => 'connect.sid=s%3A%E0%A4%A'],
    ['of 8,000 characters', () => `connect.sid=s%3A${'a'.repeat(8_000)}.${'b'.repeat(43)}`],
  ])('refuses a cookie %s: the request gets a new, empty session', async (_what, cookie) => {
    const { status, body, setCookie } = await get(app.url, cookie());
    expect(status).toBe(200);
    expect(body.id).not.toBe(sid);
    expect(body.session).not.toHaveProperty('user');
    expect(setCookie).toEqual([]); // and, unmodified, it is not stored
  });

  it('accepts a cookie signed with an older secret still listed (rotation), and signs it again with the first', async () => {
    const rotated = await startFastify(resources, store, { secret: ['new secret', SECRET], rolling: true });
    const { body, setCookie } = await get(rotated.url, signed(sid));
    expect(body).toMatchObject({ id: sid, session: { user: 'ada' } });
    const value = decodeURIComponent(setCookie[0].split(';')[0].slice('connect.sid='.length));
    expect(signature.unsign(value.slice(2), 'new secret')).toBe(sid);
    expect(rotated.errors).toEqual([]);
  });
});

describe('options', () => {
  const register = async (options: unknown) => {
    const fastify = Fastify();
    fastify.register(fastifyLiveSession, options as FastifyLiveSessionOptions);
    try {
      await fastify.ready();
    } finally {
      await fastify.close();
    }
  };

  it.each([
    ['a typo', { saveUninitialised: true }, /no option "saveUninitialised"; did you mean "saveUninitialized"\?/],
    ['express-session\'s proxy', { proxy: true }, /no option "proxy" \(express-session's\): .*trustProxy/],
    ['express-session\'s unset', { unset: 'destroy' }, /no option "unset" .*request\.session\.destroy\(\)/],
    ['an empty secret', { secret: '' }, /"secret" must be a non-empty string or a non-empty array/],
    ['no secret', { secret: undefined }, /"secret" must be a non-empty string/],
    ['an empty list of secrets', { secret: [] }, /"secret" must be a non-empty string or a non-empty array/],
    ['a cookie attribute typo', { cookie: { maxage: 1000 } }, /"cookie" has no attribute "maxage"; did you mean "maxAge"\?/],
    ['a negative maxAge', { cookie: { maxAge: -1 } }, /"cookie\.maxAge" must be a number of ms > 0/],
    ['a cookie name with a space', { name: 'my sid' }, /"name" must be a cookie name/],
    ['rolling as a string', { rolling: 'yes' }, /"rolling" must be true or false, got "yes"/],
  ])('rejects %s when the app starts', async (_what, options, message) => {
    await expect(register({ store, secret: SECRET, ...options })).rejects.toThrow(message);
  });

  it('rejects a store that is not a LiveSessionStore', async () => {
    await expect(register({ store: {}, secret: SECRET })).rejects.toThrow(/"store" must be a LiveSessionStore/);
  });

  it('rejects a genid that returns no id, through Fastify\'s error handling', async () => {
    const broken = await startFastify(resources, store, { genid: () => '' });
    const { status, body } = await get(broken.url);
    expect(status).toBe(500);
    expect(body.error).toMatch(/"genid" must return a non-empty string/);
    broken.errors.splice(0);
  });
});

describe('store failures reach Fastify\'s error handling', () => {
  it('a save over maxBytes answers the error, and the stored session keeps what it had', async () => {
    const small = await startFastify(resources, newStore(client, { prefix, maxBytes: 200 }));
    const browser = small.client();
    const { body } = await browser.post('/set', { a: 1 });
    const before = await hashOf(client, prefix + body.id);
    const reply = await browser.post('/set', { big: 'x'.repeat(500) });
    expect(reply).toMatchObject({ status: 500, body: { error: 'ERR_LIVE_SESSION_TOO_LARGE' } });
    expect(small.errors.splice(0).map((e) => e.code)).toEqual(['ERR_LIVE_SESSION_TOO_LARGE']);
    expect(await hashOf(client, prefix + body.id)).toEqual(before);
  });

  it('a Redis that does not answer fails the request with ERR_LIVE_SESSION_TIMEOUT (no hang), and the session is there again once it is back', async () => {
    const down = resources.add(await startRedis({ restartable: true, persistent: true }), (r) => r.close());
    const downClient = resources.add(await createTestClient('ioredis', { url: down.url }, { fastReconnect: true }), (c) => c.close());
    const fragile = await startFastify(resources, new LiveSessionStore({ client: downClient.client, prefix, timeout: 300 }));
    const browser = fragile.client();
    const { body } = await browser.post('/set', { a: 1 });

    await down.stop();
    const failed = await browser.get('/session');
    expect(failed).toMatchObject({ status: 500, body: { error: 'ERR_LIVE_SESSION_TIMEOUT' } });
    expect(fragile.errors.splice(0).map((e) => e.code)).toEqual(['ERR_LIVE_SESSION_TIMEOUT']);

    await down.start();
    await waitFor(async () => (await browser.get('/session')).status === 200, { what: 'the app to answer again' });
    expect((await browser.get('/session')).body).toMatchObject({ id: body.id, session: { a: 1 } });
    expect(fragile.errors.splice(0).every((e) => e.code === 'ERR_LIVE_SESSION_TIMEOUT' || e.code === 'ERR_LIVE_SESSION_REDIS')).toBe(true);
  });
});
