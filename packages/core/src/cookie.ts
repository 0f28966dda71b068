/**
 * The compact form of express-session's cookie, as stored in the `cookie` hash field.
 *
 * Redis keeps a small hash in its compact listpack encoding only while every value is at most
 * `hash-max-listpack-value` (64) bytes. express-session's cookie serialises to about 90 bytes, so
 * stored as is it alone would turn every session into a hashtable, about twice the memory.
 * The compact form uses one-letter names, leaves out the defaults (`path: "/"`, `httpOnly: true`)
 * and does not store `expires` at all: the expiry is the key's own PEXPIRE, read back with PTTL, so
 * it can never go stale (connect-redis's `touch` leaves the stored expiry behind).
 *
 *   { m: originalMaxAge, e: null when expires is null (absent: derived from the key's TTL),
 *     s: secure, h: httpOnly (absent: true; null: not set), p: path (absent: "/"; null: not set),
 *     d: domain, ss: sameSite, pr: priority, pt: partitioned }
 *
 * A cookie of any other shape is stored as `{ "*": cookie }`, unchanged.
 * `lua/expiry.lua` reads `m`, `e` and `*` to refresh the TTL on reads.
 */

const SHORT_NAMES: Record<string, string> = {
  originalMaxAge: 'm',
  secure: 's',
  domain: 'd',
  sameSite: 'ss',
  priority: 'pr',
  partitioned: 'pt',
};
const LONG_NAMES = Object.fromEntries(Object.entries(SHORT_NAMES).map(([long, short]) => [short, long]));
const COMPACT_KEYS = new Set([...Object.keys(SHORT_NAMES), 'expires', 'httpOnly', 'path']);

/** The absolute expiry (ms since the epoch) a cookie asks for, or null when it has none. */
export function cookieExpiry(cookie: unknown): number | null {
  if (!isRecord(cookie)) return null;
  const expires = cookie.expires;
  if (expires instanceof Date) return Number.isNaN(expires.getTime()) ? null : expires.getTime();
  if (typeof expires === 'string' || typeof expires === 'number') {
    const at = new Date(expires).getTime();
    return Number.isNaN(at) ? null : at;
  }
  return null;
}

/** Encodes a cookie (a Cookie instance or its JSON form) to the stored string. */
export function encodeCookie(cookie: unknown): string {
  const plain: unknown = JSON.parse(JSON.stringify(cookie ?? null));
  if (!isRecord(plain) || !isCompactable(plain)) return JSON.stringify({ '*': plain });
  const compact: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(plain)) {
    if (name in SHORT_NAMES) compact[SHORT_NAMES[name]] = value;
  }
  if (plain.expires === null) compact.e = null;
  if (plain.path !== '/') compact.p = plain.path ?? null;
  if (plain.httpOnly !== true) compact.h = plain.httpOnly ?? null;
  return JSON.stringify(compact);
}

/**
 * Decodes the stored string back to the cookie's JSON form. `expiresAt` is the key's expiry
 * (now + PTTL), used when the expiry is derived from the TTL.
 */
export function decodeCookie(stored: string, expiresAt: number | null): Record<string, unknown> {
  const compact: unknown = JSON.parse(stored);
  if (!isRecord(compact)) throw new SyntaxError('the cookie is not a JSON object');
  if ('*' in compact) {
    if (!isRecord(compact['*'])) throw new SyntaxError('the stored cookie is not a JSON object');
    return compact['*'];
  }
  const cookie: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(compact)) {
    if (name in LONG_NAMES) cookie[LONG_NAMES[name]] = value;
  }
  if ('e' in compact) cookie.expires = null;
  else if (expiresAt !== null) cookie.expires = new Date(expiresAt).toISOString();
  if (compact.h !== null) cookie.httpOnly = compact.h ?? true;
  if (compact.p !== null) cookie.path = compact.p ?? '/';
  return cookie;
}

/**
 * Two stored cookies that are the same except for at most `tolerance` ms of `originalMaxAge` (`m`).
 * express-session re-derives originalMaxAge from the clock on every request (expires - Date.now(),
 * read a moment after expires was set), so on a busy machine it comes out a few ms shorter each time:
 * that is not a change worth a round trip.
 */
export function sameCookieWithin(stored: string | undefined, encoded: string, tolerance: number): boolean {
  if (stored === undefined) return false;
  try {
    const a: unknown = JSON.parse(stored);
    const b: unknown = JSON.parse(encoded);
    if (!isRecord(a) || !isRecord(b) || typeof a.m !== 'number' || typeof b.m !== 'number') return false;
    if (Math.abs(a.m - b.m) > tolerance) return false;
    return JSON.stringify({ ...a, m: 0 }) === JSON.stringify({ ...b, m: 0 });
  } catch {
    return false;
  }
}

function isCompactable(cookie: Record<string, unknown>): boolean {
  if (!Object.keys(cookie).every((name) => COMPACT_KEYS.has(name))) return false;
  const { expires } = cookie;
  if (expires === null) return true;
  // Only an expiry that the key's TTL can give back exactly is left out.
  return typeof expires === 'string' && !Number.isNaN(Date.parse(expires)) && new Date(expires).toISOString() === expires;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
