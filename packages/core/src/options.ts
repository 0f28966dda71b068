import type session from 'express-session';
import type { IncomingMessage } from 'node:http';
import type { RedisClient } from './scripts';

/** Options of `new LiveSessionStore(options)`. */
export interface LiveSessionStoreOptions {
  /** The ioredis client (a `Redis`, or a `Cluster`); the store registers its Lua scripts on it. */
  client: RedisClient;
  /**
   * Prefix of every session key; a session's change channel has the same name as its key.
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
   * How long a store call waits for Redis before failing with ERR_LIVE_SESSION_TIMEOUT (ms).
   * Bounds how long a request hangs while Redis is down.
   * @default 2000
   */
  timeout?: number;
  /**
   * The command that publishes changes: "publish" (every subscriber of the deployment) or
   * "spublish" (sharded pub/sub, Redis 7: stays within the shard that owns the session's slot).
   * @default "spublish" on an ioredis Cluster, "publish" otherwise
   */
  publish?: 'publish' | 'spublish';
  /**
   * COUNT hint of the SCANs behind `all`, `ids`, `length` and `clear`.
   * @default 100
   */
  scanCount?: number;
  /**
   * express-session calls `touch` at the end of an unmodified request; the store skips it (no
   * round trip) when this request's `get` already refreshed the expiry to within this many ms.
   * Also how much `originalMaxAge` may drift (express-session re-derives it from the clock) before
   * the cookie counts as changed.
   * @default 1000
   */
  touchGrace?: number;
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
}

export type ResolvedOptions = Required<Omit<LiveSessionStoreOptions, 'userOf' | 'describe'>> & Pick<LiveSessionStoreOptions, 'userOf' | 'describe'>;

const DEFAULTS = {
  prefix: 'live_session:',
  lifetime: 2 * 24 * 60 * 60 * 1000,
  maxBytes: 0,
  timeout: 2000,
  scanCount: 100,
  touchGrace: 1000,
  updateAttempts: 100,
  indexPrefix: 'live_session_user:',
} as const;

export function resolveOptions(options: LiveSessionStoreOptions): ResolvedOptions {
  if (!options || typeof options.client?.defineCommand !== 'function') {
    throw new TypeError('LiveSessionStore needs an ioredis client: new LiveSessionStore({ client: new Redis() })');
  }
  const resolved: ResolvedOptions = {
    ...DEFAULTS,
    publish: options.client.isCluster ? 'spublish' : 'publish',
    ...stripUndefined(options),
    client: options.client,
  };
  for (const name of ['lifetime', 'timeout', 'scanCount', 'touchGrace', 'updateAttempts', 'maxBytes'] as const) {
    const value = resolved[name];
    const min = name === 'maxBytes' || name === 'touchGrace' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new TypeError(`LiveSessionStore option "${name}" must be a whole number >= ${min}, got ${String(value)}`);
    }
  }
  if (typeof resolved.prefix !== 'string') throw new TypeError('LiveSessionStore option "prefix" must be a string');
  checkUserIndexOptions(resolved);
  if (resolved.publish !== 'publish' && resolved.publish !== 'spublish') {
    throw new TypeError('LiveSessionStore option "publish" must be "publish" or "spublish"');
  }
  return resolved;
}

function checkUserIndexOptions(resolved: ResolvedOptions): void {
  for (const name of ['userOf', 'describe'] as const) {
    if (resolved[name] !== undefined && typeof resolved[name] !== 'function') throw new TypeError(`LiveSessionStore option "${name}" must be a function`);
  }
  const { indexPrefix, prefix } = resolved;
  if (typeof indexPrefix !== 'string' || indexPrefix.length === 0) throw new TypeError('LiveSessionStore option "indexPrefix" must be a non-empty string');
  if (resolved.userOf && (indexPrefix.startsWith(prefix) || prefix.startsWith(indexPrefix))) {
    throw new TypeError(`LiveSessionStore option "indexPrefix" ("${indexPrefix}") and "prefix" ("${prefix}") must not start with one another: a SCAN of the sessions would meet the user indexes`);
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
