/**
 * A fleet of Express (express-session) and Fastify (@live-session/fastify) servers on one session:
 * each server its own process, on the built packages, sharing only Redis; one browser's cookie jar
 * goes to both. The cookie is express-session's on both, so the session is one.
 */
import { CLIENT_KINDS, type ChildServer, CookieClient, startChild, startRedis, type TestRedis } from '@live-session/test-support';
import { join } from 'node:path';

const SERVER = join(__dirname, 'fixtures', 'server.js');
const HOUR = 60 * 60 * 1000;
const PER_SERVER = 100;

let redis: TestRedis;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(() => redis.close());

/** Set-Cookie without its Expires date (the two servers answer at different moments). */
const withoutDate = (setCookie: string) => setCookie.replace(/; Expires=[^;]+/, '; Expires=*');

describe.each(CLIENT_KINDS)('an Express server and a Fastify server in separate processes (%s)', (kind) => {
  const servers: ChildServer[] = [];
  let express: string;
  let fastify: string;

  beforeAll(async () => {
    const start = async (framework: string) => {
      const server = await startChild(SERVER, { FRAMEWORK: framework, REDIS_URL: redis.url, REDIS_CLIENT: kind, PREFIX: `fleet-${kind}:`, MAX_AGE: String(HOUR) });
      servers.push(server);
      return `http://127.0.0.1:${server.info.port}`;
    };
    [express, fastify] = await Promise.all([start('express'), start('fastify')]);
  }, 60_000);
  afterAll(() => Promise.all(servers.map((s) => s.stop())));

  /** One browser: a tab on each server, one cookie jar. */
  const browser = () => {
    const onExpress = new CookieClient(express);
    return { onExpress, onFastify: onExpress.forOrigin(fastify) };
  };

  it('a login on either server is the session on the other, and a write on either is read on the other', async () => {
    const a = browser();
    const { id } = (await a.onExpress.post('/login', { user: 'ada' })).body;
    expect((await a.onFastify.get('/session')).body).toMatchObject({ id, session: { user: 'ada' } });
    await a.onFastify.post('/set', { cart: ['book'] });
    expect((await a.onExpress.get('/session')).body).toMatchObject({ id, session: { user: 'ada', cart: ['book'] } });

    const b = browser();
    const other = (await b.onFastify.post('/login', { user: 'grace' })).body;
    expect((await b.onExpress.get('/session')).body).toMatchObject({ id: other.id, session: { user: 'grace' } });
  });

  it(`keeps all ${2 * PER_SERVER} keys when ${PER_SERVER} concurrent requests on each server each set their own`, async () => {
    const { onExpress, onFastify } = browser();
    const { id } = (await onExpress.post('/login', { user: 'ada' })).body;
    const responses = await Promise.all([
      ...Array.from({ length: PER_SERVER }, (_, i) => onExpress.post('/set', { [`e${i}`]: i })),
      ...Array.from({ length: PER_SERVER }, (_, i) => onFastify.post('/set', { [`f${i}`]: i })),
    ]);
    expect(responses.map((r) => r.status)).toEqual(Array(2 * PER_SERVER).fill(200));
    const session = (await onFastify.get('/session')).body;
    expect(session.id).toBe(id);
    expect(Object.keys(session.session).filter((k) => /^[ef]\d+$/.test(k))).toHaveLength(2 * PER_SERVER);
  });

  it('a regenerate on Fastify leaves the old cookie nothing to load on Express', async () => {
    const { onExpress, onFastify } = browser();
    const before = (await onExpress.post('/login', { user: 'ada' })).body.id;
    const oldCookie = onExpress.cookieHeader;
    const after = (await onFastify.post('/login', { user: 'ada' })).body.id;
    expect(after).not.toBe(before);
    expect((await onExpress.get('/session')).body).toMatchObject({ id: after, session: { user: 'ada' } });
    const stale = new CookieClient(express);
    stale.setCookie('connect.sid', oldCookie.slice('connect.sid='.length));
    expect((await stale.get('/session')).body.session.user).toBeUndefined();
  });

  it('a logout on Express ends the session on Fastify', async () => {
    const { onExpress, onFastify } = browser();
    const { id } = (await onFastify.post('/login', { user: 'ada' })).body;
    await onExpress.post('/logout');
    const after = (await onFastify.post('/set', { cart: ['late'] })).body;
    expect(after.id).not.toBe(id);
    expect(after.session.user).toBeUndefined();
    expect((await onExpress.get('/session')).body.session.user).toBeUndefined();
  });

  it('both servers send the same Set-Cookie for the same session', async () => {
    const first = await fetch(`${express}/set`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    await first.text(); // express-session holds the end of the body until the session is saved
    const [fromExpress] = first.headers.getSetCookie();
    const cookie = fromExpress.split(';')[0];
    const second = await fetch(`${fastify}/set`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: '{"a":2}' });
    const [fromFastify] = second.headers.getSetCookie();
    expect(fromExpress).toMatch(/; Expires=/);
    expect(withoutDate(fromFastify)).toBe(withoutDate(fromExpress));
  });
});
