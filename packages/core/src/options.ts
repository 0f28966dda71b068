import type { RedisClient } from './redis';

/** Options of `new LiveSessionStore(options)`. */
export interface LiveSessionStoreOptions {
  /**
   * The Redis client: an ioredis `Redis` or `Cluster` (the store registers its Lua scripts on it),
   * or a node-redis (`redis` >= 5) client from `createClient()` or `createCluster()`, connected
   * by the app (`await client.connect()`).
   */
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
   * @default "spublish" on a Cluster (either client), "publish" otherwise
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
}

export type ResolvedOptions = Required<LiveSessionStoreOptions>;

const DEFAULTS = {
  prefix: 'live_session:',
  lifetime: 2 * 24 * 60 * 60 * 1000,
  maxBytes: 0,
  timeout: 2000,
  scanCount: 100,
  touchGrace: 1000,
  updateAttempts: 100,
} as const;

/** `isCluster`: what the client is (the seam told it apart: redis/index.ts). */
export function resolveOptions(options: LiveSessionStoreOptions, isCluster: boolean): ResolvedOptions {
  const resolved: ResolvedOptions = {
    ...DEFAULTS,
    publish: isCluster ? 'spublish' : 'publish',
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
  if (resolved.publish !== 'publish' && resolved.publish !== 'spublish') {
    throw new TypeError('LiveSessionStore option "publish" must be "publish" or "spublish"');
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
