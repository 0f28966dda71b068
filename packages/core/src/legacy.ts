/**
 * Sessions that connect-redis stored under the same prefix: one JSON string per key
 * (`SET prefix+sid json EX ttl`). They are moved to this store's hash layout on first use.
 *
 * Normal reads and writes pay nothing for this: the store's scripts fail with WRONGTYPE on a string
 * (their first command on the key is a hash command, before anything is written), and only then
 * does the store migrate the key and run the operation again. The migration reads the string,
 * encodes it here with the store's own encoders, and swaps it in lua/migrate.lua only if the key
 * still holds exactly what was read: a connect-redis server still running (a rolling deploy) that
 * SETs the key meanwhile makes the swap fail, and the migration starts over from its value.
 */
import { cookieExpiry, refreshInterval } from './cookie';
import { LiveSessionError } from './errors';
import { encodeSession, REFRESH_FIELD } from './fields';
import { isWrongType, type RedisConnection } from './redis';
import { SCRIPTS } from './scripts';

/** Hooks for the tests only (not exported by the package): between a read and its compare-and-swap. */
export const testHooks: { beforeSwap?: (key: string) => Promise<void>; beforeConvert?: (key: string) => Promise<void> } = {};

/** What the migration needs from the store. */
export interface LegacyHost {
  readonly redis: RedisConnection;
  readonly lifetime: number;
  readonly publish: 'publish' | 'spublish';
  /** Swaps tried before giving up, while connect-redis servers keep rewriting the key. */
  readonly attempts: number;
  /** Runs one Redis command under the store's deadline and error mapping. */
  call<T>(what: string, operation: () => Promise<T>): Promise<T>;
}

export { isWrongType };

/**
 * Runs `operation`; when it fails because the key holds a connect-redis string, migrates the key
 * and runs it again (again and again while connect-redis servers keep rewriting it).
 * `discardCorrupt`: an operation that does not need the old value (destroy, a whole replace) drops
 * a string that is not a session instead of failing with ERR_LIVE_SESSION_CORRUPT.
 */
export function withMigration<T>(host: LegacyHost, sid: string, key: string, operation: () => Promise<T>, discardCorrupt = false): Promise<T> {
  // One promise more than the operation alone, and no async frame: this is on every write.
  return operation().catch((err: unknown) => retryAfterMigrating(host, sid, key, err, operation, discardCorrupt));
}

/** withMigration once `operation` has failed with `err` (for callers that already caught it). */
export async function retryAfterMigrating<T>(
  host: LegacyHost,
  sid: string,
  key: string,
  err: unknown,
  operation: () => Promise<T>,
  discardCorrupt = false,
): Promise<T> {
  for (let attempt = 0; isWrongType(err) && attempt < host.attempts; attempt++) {
    await migrate(host, sid, key, discardCorrupt);
    try {
      return await operation();
    } catch (next) {
      err = next;
    }
  }
  throw err;
}

/** Moves the key to the hash layout; resolves once it no longer holds a string (or is gone). */
export async function migrate(host: LegacyHost, sid: string, key: string, discardCorrupt = false): Promise<void> {
  for (let attempt = 0; attempt < host.attempts; attempt++) {
    const [kind, text] = (await host.call('migrate', () => host.redis.script(SCRIPTS.migrate, key, ['read']))) as [string, string?];
    if (kind === 'hash' || kind === 'none') return;
    if (kind !== 'string' || text === undefined) {
      throw corrupt(sid, key, `holds a Redis ${kind}, not a session`, undefined, 'it is left as it is');
    }
    let fields: string[] = [];
    let fallback = `in ${host.lifetime}`;
    try {
      ({ fields, fallback } = encodeLegacy(sid, key, text, host.lifetime));
    } catch (err) {
      if (!discardCorrupt) throw err;
    }
    await testHooks.beforeSwap?.(key);
    const header = `${fallback} ${host.publish}`;
    const result = await host.call('migrate', () => host.redis.script(SCRIPTS.migrate, key, ['swap', text, header, ...fields]));
    if (result !== 'changed') return;
  }
  throw new LiveSessionError(
    'ERR_LIVE_SESSION_CONFLICT',
    `session "${sid}": connect-redis kept rewriting it while it was moved to the hash layout (${host.attempts} attempts, option "updateAttempts")`,
  );
}

/**
 * connect-redis's JSON text as this store's hash fields (flat field, value list) and the expiry a
 * key without TTL gets (connect-redis's disableTTL): the cookie's, or `lifetime` from now.
 */
function encodeLegacy(sid: string, key: string, text: string, lifetime: number): { fields: string[]; fallback: string } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw corrupt(sid, key, `holds a string that is not JSON (${(cause as Error).message}); was it written by connect-redis with a custom serializer?`, cause);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw corrupt(sid, key, 'holds JSON that is not an object');
  const { cookie } = data as { cookie?: unknown };
  if (typeof cookie !== 'object' || cookie === null || Array.isArray(cookie)) {
    throw corrupt(sid, key, 'holds a JSON object without a cookie object: not an express-session session');
  }
  const fields = [...encodeSession(sid, data)].flat();
  const interval = refreshInterval(cookie, lifetime);
  if (interval !== null) fields.push(REFRESH_FIELD, String(interval));
  const at = cookieExpiry(cookie);
  return { fields, fallback: at === null ? `in ${lifetime}` : `at ${Math.max(0, at)}` };
}

function corrupt(sid: string, key: string, what: string, cause?: unknown, after = 'it is left as it is (destroy(sid) deletes it)'): LiveSessionError {
  return new LiveSessionError(
    'ERR_LIVE_SESSION_CORRUPT',
    `session "${sid}": key "${key}" ${what}; ${after}`,
    cause === undefined ? undefined : { cause },
  );
}
