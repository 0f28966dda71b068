/**
 * The stores under test and the session data all get: ours and connect-redis 8.1 on the same ioredis
 * (connect-redis 8.1 is the last version that takes one), and today's connect-redis 10 on node-redis 6
 * (installed under the npm alias `connect-redis-10`), as an anchor.
 */
import { LiveSessionStore } from '@live-session/core';
import { RedisStore } from 'connect-redis';
import { RedisStore as RedisStore10 } from 'connect-redis-10';
import session from 'express-session';
import { type Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';

export const OURS = 'live-session';
export const CONNECT_REDIS = 'connect-redis';
export const CONNECT_REDIS_10 = 'connect-redis 10 (node-redis)';
export type StoreName = typeof OURS | typeof CONNECT_REDIS;
/** This store on a node-redis client. */
export const OURS_NODE_REDIS = 'live-session (node-redis)';
/**
 * Ours as another build of @live-session/core made it (`LIVE_SESSION_BASELINE=<its dist folder>`): the
 * same client setting, to compare a change with the code before it in one run. Only when set.
 */
export const OURS_BASELINE = 'live-session baseline';
export const BASELINE_CORE = process.env.LIVE_SESSION_BASELINE;

/** express-session's own MemoryStore: one process, no network, JSON per request (the limit of a read). */
export const MEMORY_STORE = 'MemoryStore';
export type AnyStoreName = StoreName | typeof CONNECT_REDIS_10 | typeof OURS_NODE_REDIS | typeof MEMORY_STORE | typeof OURS_BASELINE;

export const DAY = 24 * 60 * 60 * 1000;

/** Options of ours beyond client and prefix (`touchAfter`, ...): ignored for connect-redis. */
export type OurOptions = Omit<ConstructorParameters<typeof LiveSessionStore>[0], 'client' | 'prefix'>;

export function createStore(name: StoreName, client: Redis | Cluster, prefix: string, options: OurOptions = {}): session.Store {
  return name === OURS ? new LiveSessionStore({ ...options, client, prefix }) : new RedisStore({ client, prefix });
}

export function newClient(url: string, { autoPipelining = false } = {}): Redis {
  return new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1, enableAutoPipelining: autoPipelining });
}

export interface OpenStore {
  store: session.Store;
  close(): Promise<unknown>;
}

/**
 * Any of the three stores on its own new connection to `url`. node-redis is connected before the store
 * is used (connect-redis 10 expects a connected client); `autoPipelining` is ioredis's `enableAutoPipelining`
 * (node-redis always writes the commands of one tick together).
 */
export async function openStore(name: AnyStoreName, url: string, prefix: string, { autoPipelining = false, options = {} as OurOptions } = {}): Promise<OpenStore> {
  if (name === MEMORY_STORE) return { store: new session.MemoryStore(), close: async () => undefined };
  if (name === OURS_BASELINE) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { LiveSessionStore: Baseline } = require(BASELINE_CORE!) as { LiveSessionStore: typeof LiveSessionStore };
    const client = newClient(url, { autoPipelining });
    return { store: new Baseline({ ...options, client, prefix }), close: () => client.quit() };
  }
  if (name === CONNECT_REDIS_10 || name === OURS_NODE_REDIS) {
    const client = createClient({ url });
    client.on('error', () => undefined); // a failed command rejects; the run then fails on it
    await client.connect();
    try {
      const store =
        name === CONNECT_REDIS_10
          ? new RedisStore10({ client, prefix })
          : new LiveSessionStore({ ...options, client: client as unknown as ConstructorParameters<typeof LiveSessionStore>[0]['client'], prefix });
      return { store, close: () => closeOurs(store).then(() => client.close()) };
    } catch (err) {
      await client.close();
      throw err;
    }
  }
  const client = newClient(url, { autoPipelining });
  const store = createStore(name as StoreName, client, prefix, options);
  return { store, close: () => closeOurs(store).then(() => client.quit()) };
}

/** Ours with a cache holds a subscriber connection: closed before its client. */
function closeOurs(store: session.Store): Promise<void> {
  return store instanceof LiveSessionStore ? store.close() : Promise.resolve();
}

/** A cookie as express-session creates it for `cookie: { maxAge: DAY }`. */
export function newCookie(): session.Cookie {
  // The typings hide Cookie's constructor; express-session calls it with the cookie options.
  const Cookie = session.Cookie as unknown as new (options: session.CookieOptions) => session.Cookie;
  return new Cookie({ maxAge: DAY });
}

/** The small session of issue 5: cookie + user + a 3-item cart. */
export function smallSession(i: number): Record<string, unknown> {
  return { cookie: newCookie(), user: { id: 1000 + i, name: 'Ada Lovelace' }, cart: [101, 202, 303] };
}

/** A 20-key session: the cookie and 19 application keys of the kinds apps keep (ids, flags, short strings, small objects). */
export function twentyKeySession(i: number): Record<string, unknown> {
  return {
    cookie: newCookie(),
    user: { id: 1000 + i, name: 'Ada Lovelace' },
    cart: [101, 202, 303],
    csrfSecret: 'dBb1X5e9yWQfZt7kV3mL0pRs',
    locale: 'en-GB',
    timezone: 'Europe/London',
    theme: 'dark',
    returnTo: '/account/orders?page=2',
    lastSeen: 1767225600000 + i,
    visits: 17,
    isAdmin: false,
    flash: { info: ['Saved'] },
    currency: 'GBP',
    searchHistory: ['lamp', 'desk', 'chair'],
    abTests: { checkout: 'B', banner: 'A' },
    consent: { analytics: true, ads: false },
    orgId: 'org_8f2a91',
    plan: 'pro',
    wishlist: [11, 12],
    referrer: 'newsletter-2026-01',
  };
}

/**
 * What express-session does when it loads a session: store.get(sid, callback), and from inside that
 * callback createSession(req, data) (req carries the sid); resolves with req.session.
 */
export function loadAsExpressSession(store: session.Store, sid: string): Promise<session.Session & Record<string, unknown>> {
  const req = { sessionID: sid } as unknown as Parameters<session.Store['createSession']>[0] & { session?: session.Session & Record<string, unknown> };
  return new Promise((resolve, reject) =>
    store.get(sid, (err, data) => {
      if (err) return reject(err);
      if (!data) return reject(new Error(`session ${sid} is missing`));
      store.createSession(req, data);
      resolve(req.session!);
    }),
  );
}

/** Populates `count` sessions in the store, 200 at a time. */
export async function populate(store: session.Store, sids: string[], make: (i: number) => Record<string, unknown>): Promise<void> {
  for (let start = 0; start < sids.length; start += 200) {
    await Promise.all(sids.slice(start, start + 200).map((sid, j) => promisify<void>((cb) => store.set(sid, make(start + j) as unknown as session.SessionData, cb))));
  }
}

export function promisify<T>(call: (cb: (err: unknown, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => call((err, value) => (err ? reject(err) : resolve(value as T))));
}

/** Session ids as express-session makes them (24 random bytes, base64url: 32 characters). */
export function sids(count: number): string[] {
  return Array.from({ length: count }, () => randomBytes(24).toString('base64url'));
}
