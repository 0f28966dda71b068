import { closest, distance } from 'fastest-levenshtein';
import type session from 'express-session';
import type { IncomingMessage } from 'node:http';
import type { RedisClient } from './redis';

/** Options of `new LiveSessionStore(options)`. */
export interface LiveSessionStoreOptions extends ConnectRedisOptions {
  /**
   * The Redis client: an ioredis `Redis` or `Cluster` (the store registers its Lua scripts on it),
   * or a node-redis (`redis` >= 5) client from `createClient()` or `createCluster()`, connected
   * by the app (`await client.connect()`).
   */
  client: RedisClient;
  /**
   * Prefix of every session key; a session's change channel has the same name as its key.
   * connect-redis's default is "sess:": pass it to keep the sessions connect-redis stored.
   * @default "live_session:"
   */
  prefix?: string;
  /**
   * Lifetime in ms of a session whose cookie has no expiry (a browser-session cookie), refreshed
   * by every read and write. A cookie with a `maxAge` or `expires` sets the lifetime itself.
   * @default 172800000 (two days)
   */
  lifetime?: number;
  /**
   * Largest session, in bytes of stored field names and values; a write that would exceed it is
   * rejected with ERR_LIVE_SESSION_TOO_LARGE and nothing is written. 0: no limit.
   * @default 0
   */
  maxBytes?: number;
  /**
   * Largest change message, in bytes: a change whose message would be larger publishes
   * `{"format":1,"event":"reload","version":N}` instead (the same version, no values), and
   * consumers read the session. Keeps a huge write from overflowing every subscriber's output
   * buffer (Redis drops a pub/sub client past 32 MB by default). 0: every change is a reload.
   * @default 65536 (64 KiB)
   */
  maxMessageBytes?: number;
  /**
   * How long a store call waits for Redis before failing with ERR_LIVE_SESSION_TIMEOUT (ms).
   * Bounds how long a request hangs while Redis is down.
   * @default 2000
   */
  timeout?: number;
  /**
   * The command that publishes changes: "publish" (every subscriber of the deployment) or
   * "spublish" (sharded pub/sub, Redis 7: stays within the shard that owns the session's slot).
   * @default "spublish" on a Cluster (either client), "publish" otherwise
   */
  publish?: 'publish' | 'spublish';
  /**
   * COUNT hint of the SCANs behind `all`, `ids`, `length` and `clear` (as in connect-redis).
   * @default 100
   */
  scanCount?: number;
  /**
   * express-session calls `touch` at the end of an unmodified request; the store skips it (no
   * round trip) when the expiry Redis holds is already within this many ms of the one the cookie
   * asks for (a fixed expiry; a session written or refreshed a moment ago).
   * Also how much `originalMaxAge` may drift (express-session re-derives it from the clock) before
   * the cookie counts as changed.
   * @default 1000
   */
  touchGrace?: number;
  /**
   * How far (ms) a session's expiry may lag behind its last use before a request's touch refreshes
   * it, as connect-mongo's `touchAfter`: a request that does not modify the session then costs
   * Redis one HGETALL instead of HGETALL + PEXPIREAT. The bound: a session may expire up to this
   * many ms earlier than its cookie's maxAge after its last use. 0: every request refreshes it.
   * No effect with `userOf` (its reads refresh the expiry themselves, to keep the index's deadline).
   * @default 0
   */
  touchAfter?: number;
  /**
   * How many times `updateSession` tries again after another writer changed the same key.
   * @default 100
   */
  updateAttempts?: number;
  /**
   * Who a session belongs to (for example `(s) => s.user?.id`): turns on the index of each user's
   * sessions (`sessionsOf`, `destroySessionsOf`), read by every save. Without it the index costs
   * nothing. A non-empty string of at most 512 characters, or null/undefined for no one.
   */
  userOf?: (session: session.SessionData) => string | null | undefined;
  /**
   * What to record for the person when a session joins a user's index (typically at login), for
   * example a device label from `req.headers['user-agent']`; JSON, listed by `sessionsOf` as `info`.
   * `req` is undefined for a save outside a request.
   */
  describe?: (req: IncomingMessage | undefined, session: session.SessionData) => unknown;
  /**
   * Prefix of the user index keys (`<indexPrefix><user>`). Must not start with `prefix` (nor
   * `prefix` with it): a SCAN of the sessions never meets an index.
   * @default "live_session_user:"
   */
  indexPrefix?: string;
  /**
   * Serve reads from memory: the sessions this process reads most are followed (subscribed to
   * their change messages) and their reads, exact on every server, send Redis no read (see the
   * README, "Reads from memory"). `true` for the defaults, or the bounds. Opens one subscriber
   * connection per store; call `store.close()` on shutdown.
   * @default false
   */
  cache?: boolean | CacheOption;
  /**
   * Records the lifecycle of every session (created, destroyed, expired, revoked) in Redis, for
   * `watchSessions` to hand each event to exactly one server of the fleet (see the README, "Session
   * events"). Costs one command on a write that creates a session, destroys one or moves its expiry
   * back, none on other reads and writes. Off: the store sends exactly what it sends without it.
   * @default false
   */
  events?: boolean;
  /**
   * Prefix of the events' keys: each shard's keys are `{<eventsPrefix><n>}due`, `...info`,
   * `...stream` (one Cluster slot per shard, by its hash tag).
   * @default `${prefix}events:`
   */
  eventsPrefix?: string;
  /**
   * How many shards the events' keys are spread over (each one a slot, so one master, of a Cluster):
   * no one key carries the whole fleet's events. Every store and watcher of a prefix must agree.
   * @default 16 on a Cluster, 1 otherwise
   */
  eventShards?: number;
}

/** The bounds of the `cache` option. */
export interface CacheOption {
  /**
   * Most sessions held (and channels subscribed) for reads; sessions followed by live connections
   * (sockets, streams) are held besides, whatever this says.
   * @default 10000
   */
  maxSessions?: number;
  /**
   * A session nobody read for this many ms is let go (unsubscribed).
   * @default 300000 (5 minutes)
   */
  idleAfter?: number;
}

/** connect-redis's options that map onto this store (the others are rejected: see CONNECT_REDIS). */
export interface ConnectRedisOptions {
  /**
   * connect-redis's `ttl`, in seconds: the lifetime of a session whose cookie has no expiry, so
   * `ttl: 86400` is `lifetime: 86400000`. Give one of the two. (connect-redis's function form is
   * not supported: the cookie sets each session's expiry.)
   */
  ttl?: number;
}

/** Every option with its value: what `store.options` holds (connect-redis's are resolved away). */
export type ResolvedOptions = Required<Omit<LiveSessionStoreOptions, keyof ConnectRedisOptions | 'userOf' | 'describe' | 'cache'>> &
  Pick<LiveSessionStoreOptions, 'userOf' | 'describe'> & { cache: Required<CacheOption> | false };

/** How one option is checked, and its value when not given. */
interface OptionSpec<T> {
  /** The value when the option is absent (or undefined); omitted for a required option. */
  default?: (given: Readonly<Record<string, unknown>>, isCluster: boolean) => T;
  /** The value to use, or a TypeError naming the option. */
  check: (value: unknown, name: string) => T;
}

/**
 * THE list of this store's options: a new option is added to LiveSessionStoreOptions and here
 * (the type makes both agree). Anything else is rejected, with a suggestion when it looks like a typo.
 */
const OPTIONS: { [K in keyof ResolvedOptions]-?: OptionSpec<ResolvedOptions[K]> } = {
  client: { check: checkClient },
  prefix: { default: () => 'live_session:', check: checkString },
  lifetime: { default: () => 2 * 24 * 60 * 60 * 1000, check: wholeNumber(1) },
  maxBytes: { default: () => 0, check: wholeNumber(0) },
  maxMessageBytes: { default: () => 64 * 1024, check: wholeNumber(0) },
  timeout: { default: () => 2000, check: wholeNumber(1) },
  publish: {
    default: (_given, isCluster) => (isCluster ? 'spublish' : 'publish'),
    check: (value, name) => {
      if (value === 'publish' || value === 'spublish') return value;
      throw new TypeError(`LiveSessionStore option "${name}" must be "publish" or "spublish", got ${describe(value)}`);
    },
  },
  scanCount: { default: () => 100, check: wholeNumber(1) },
  touchGrace: { default: () => 1000, check: wholeNumber(0) },
  touchAfter: { default: () => 0, check: wholeNumber(0) },
  updateAttempts: { default: () => 100, check: wholeNumber(1) },
  userOf: { default: () => undefined, check: optionalFunction },
  describe: { default: () => undefined, check: optionalFunction },
  indexPrefix: { default: () => 'live_session_user:', check: nonEmptyString },
  cache: { default: () => false, check: checkCache },
  events: { default: () => false, check: checkBoolean },
  eventsPrefix: { default: (given) => `${typeof given.prefix === 'string' ? given.prefix : 'live_session:'}events:`, check: nonEmptyString },
  eventShards: { default: (_given, isCluster) => (isCluster ? 16 : 1), check: wholeNumberUpTo(1, 1024) },
};

const CACHE_DEFAULTS: Required<CacheOption> = { maxSessions: 10_000, idleAfter: 5 * 60 * 1000 };

function checkCache(value: unknown, name: string): Required<CacheOption> | false {
  if (value === false) return false;
  if (value === true) return CACHE_DEFAULTS;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`LiveSessionStore option "${name}" must be true, false or { maxSessions, idleAfter }, got ${describe(value)}`);
  }
  const given = value as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!Object.hasOwn(CACHE_DEFAULTS, key)) throw new TypeError(`LiveSessionStore option "${name}" has no "${key}": it takes maxSessions and idleAfter`);
  }
  const pick = (key: keyof CacheOption) => (given[key] === undefined ? CACHE_DEFAULTS[key] : wholeNumber(1)(given[key], `${name}.${key}`));
  return { maxSessions: pick('maxSessions'), idleAfter: pick('idleAfter') };
}

/**
 * connect-redis's options, which users switching stores bring along (`client`, `prefix` and
 * `scanCount` have the same names and meanings, and are in OPTIONS). Each one either becomes its
 * equivalent here or is rejected with a TypeError that names the equivalent; `false` for a
 * `disable*` option is connect-redis's default, and means the same here.
 */
const CONNECT_REDIS: Record<string, (value: unknown, given: Readonly<Record<string, unknown>>) => Partial<ResolvedOptions>> = {
  ttl(value, given) {
    if (typeof value === 'function') {
      throw new TypeError(
        'LiveSessionStore has no option "ttl" as a function (connect-redis): each session expires as its cookie says (set req.session.cookie.maxAge or expires per session), and one whose cookie has no expiry lives "lifetime" ms after its last use',
      );
    }
    if (given.lifetime !== undefined) {
      throw new TypeError('LiveSessionStore options "ttl" (connect-redis, seconds) and "lifetime" (ms) are the same setting: give only "lifetime"');
    }
    const seconds = wholeNumber(1)(value, 'ttl');
    return { lifetime: seconds * 1000 };
  },
  disableTouch(value) {
    if (value === false) return {};
    throw new TypeError(
      'LiveSessionStore has no option "disableTouch" (connect-redis): a session that is never touched expires while it is in use; to refresh it less often, set "touchAfter" (how far, in ms, its expiry may lag behind its last use): remove "disableTouch"',
    );
  },
  disableTTL(value) {
    if (value === false) return {};
    throw new TypeError(
      'LiveSessionStore has no option "disableTTL" (connect-redis): this store never keeps a session without an expiry; one whose cookie has no expiry lives "lifetime" ms after its last use: remove "disableTTL", set "lifetime"',
    );
  },
  serializer(value) {
    if (value === JSON) return {};
    throw new TypeError(
      'LiveSessionStore has no option "serializer" (connect-redis): values are stored as JSON, one hash field per top-level key; remove the option (sessions that connect-redis stored with a custom serializer cannot be read: only its default JSON)',
    );
  },
};

/** `isCluster`: what the client is (the seam told the clients apart, and checked it: redis/index.ts). */
export function resolveOptions(options: LiveSessionStoreOptions, isCluster: boolean): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('LiveSessionStore needs options with a Redis client: new LiveSessionStore({ client })');
  }
  const given = options as unknown as Readonly<Record<string, unknown>>;
  let translated: Partial<ResolvedOptions> = {};
  for (const name of Object.keys(given)) {
    if (Object.hasOwn(OPTIONS, name)) continue;
    const translate = Object.hasOwn(CONNECT_REDIS, name) ? CONNECT_REDIS[name] : undefined;
    if (!translate) throw unknownOption(name);
    if (given[name] !== undefined) translated = { ...translated, ...translate(given[name], given) };
  }
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [string, OptionSpec<unknown>][]) {
    // Only undefined means "the default" (null is a wrong value, rejected by check).
    const value = given[name] !== undefined ? given[name] : translated[name as keyof ResolvedOptions];
    if (value !== undefined) resolved[name] = spec.check(value, name);
    else if (spec.default) resolved[name] = spec.default(given, isCluster);
    else resolved[name] = spec.check(value, name); // required: check() says what is missing
  }
  checkPrefixes(resolved as ResolvedOptions);
  return resolved as ResolvedOptions;
}

/** A TypeError naming the closest known option, when one is close enough to be a typo. */
function unknownOption(name: string): TypeError {
  const known = [...Object.keys(OPTIONS), ...Object.keys(CONNECT_REDIS)];
  const lower = name.toLowerCase();
  const nearest = closest(lower, known.map((k) => k.toLowerCase()));
  const suggestion = known.find((k) => k.toLowerCase() === nearest);
  const close = suggestion !== undefined && distance(lower, nearest) <= Math.max(2, Math.floor(name.length / 3));
  return new TypeError(
    `LiveSessionStore has no option "${name}"${close ? `; did you mean "${suggestion}"?` : ''} Options: ${Object.keys(OPTIONS).join(', ')}`,
  );
}

/** Which client it is was checked where it entered (redis/index.ts): here it only has to be there. */
function checkClient(value: unknown): RedisClient {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError('LiveSessionStore needs a Redis client: new LiveSessionStore({ client })');
  }
  return value as RedisClient;
}

function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`LiveSessionStore option "${name}" must be a string, got ${describe(value)}`);
  return value;
}

function wholeNumber(min: number) {
  return (value: unknown, name: string): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new TypeError(`LiveSessionStore option "${name}" must be a whole number >= ${min}, got ${describe(value)}`);
    }
    return value;
  };
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'function' ? 'a function' : String(value);
}

function wholeNumberUpTo(min: number, max: number) {
  const atLeast = wholeNumber(min);
  return (value: unknown, name: string): number => {
    const n = atLeast(value, name);
    if (n > max) throw new TypeError(`LiveSessionStore option "${name}" must be a whole number from ${min} to ${max}, got ${describe(value)}`);
    return n;
  };
}

function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`LiveSessionStore option "${name}" must be true or false, got ${describe(value)}`);
  return value;
}

function optionalFunction<F>(value: unknown, name: string): F | undefined {
  if (value === undefined || typeof value === 'function') return value as F | undefined;
  throw new TypeError(`LiveSessionStore option "${name}" must be a function, got ${describe(value)}`);
}

function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`LiveSessionStore option "${name}" must be a non-empty string, got ${describe(value)}`);
  return value;
}

/** The user index must never be met by a SCAN of the sessions, nor the other way round. */
function checkPrefixes({ userOf, indexPrefix, prefix, events, eventsPrefix }: ResolvedOptions): void {
  if (userOf && (indexPrefix.startsWith(prefix) || prefix.startsWith(indexPrefix))) {
    throw new TypeError(`LiveSessionStore option "indexPrefix" ("${indexPrefix}") and "prefix" ("${prefix}") must not start with one another: a SCAN of the sessions would meet the user indexes`);
  }
  // The events' keys start with '{' + eventsPrefix (their hash tag).
  if (events && (prefix === '' || `{${eventsPrefix}`.startsWith(prefix))) {
    throw new TypeError(`LiveSessionStore option "prefix" ("${prefix}") must not be empty or start with "{" with the option "events": a SCAN of the sessions would meet the events' keys ("{${eventsPrefix}0}info"...)`);
  }
}
