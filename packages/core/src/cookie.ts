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
 */

import { stringifyMember } from './json';

const SHORT_NAMES = new Map([
  ['originalMaxAge', 'm'],
  ['secure', 's'],
  ['domain', 'd'],
  ['sameSite', 'ss'],
  ['priority', 'pr'],
  ['partitioned', 'pt'],
]);
const LONG_NAMES = new Map([...SHORT_NAMES].map(([long, short]) => [short, long]));
const COMPACT_KEYS = new Set([...SHORT_NAMES.keys(), 'expires', 'httpOnly', 'path']);

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

/**
 * How often a read should push the session's expiry forward, in ms, or null when the cookie fixes
 * it: a cookie with a maxAge moves by it (as express-session's touch does on every request); one
 * without expiry lives `lifetime` after its last use. Stored in the `$t` field, read by lua/get.lua.
 */
export function refreshInterval(cookie: unknown, lifetime: number): number | null {
  if (!isRecord(cookie) || cookie.expires === null || cookie.expires === undefined) return lifetime;
  const maxAge = cookie.originalMaxAge;
  return typeof maxAge === 'number' && maxAge > 0 ? Math.round(maxAge) : null;
}

/** Encodes a cookie's JSON form (cookieJson) to the stored string. */
export function encodeCookie(plain: Record<string, unknown>): string {
  if (!isCompactable(plain)) return JSON.stringify({ '*': plain });
  const compact: Record<string, unknown> = {};
  for (const name of Object.keys(plain)) {
    const short = SHORT_NAMES.get(name);
    if (short !== undefined && plain[name] !== undefined) compact[short] = plain[name];
  }
  if (plain.expires === null) compact.e = null;
  if (plain.path !== '/') compact.p = plain.path ?? null;
  if (plain.httpOnly !== true) compact.h = plain.httpOnly ?? null;
  return JSON.stringify(compact);
}

/**
 * The decoded cookies that were stored as they are (`{"*": cookie}`), not in the compact form: a
 * save compares them by writing them again. Rare, so the set stays small (the compact ones, on
 * every request, are not in it).
 */
const STORED_AS_IS = new WeakSet<object>();

/**
 * Decodes the stored string back to the cookie's JSON form. `expiresAt` is the key's expiry
 * (now + PTTL), used when the expiry is derived from the TTL.
 */
export function decodeCookie(stored: string, expiresAt: number | null): Record<string, unknown> | undefined {
  return expandCookie(JSON.parse(stored), expiresAt);
}

/**
 * decodeCookie on the already parsed compact form. Throws SyntaxError when it is not one.
 * Undefined for a cookie stored as it is that is no object (`{"*": null}`): earlier versions
 * stored such cookies, which express-session cannot load; the session reads as one without a
 * cookie (express-session then gives it its default one) rather than failing every request.
 */
export function expandCookie(compact: unknown, expiresAt: number | null): Record<string, unknown> | undefined {
  if (!isRecord(compact)) throw new SyntaxError('the cookie is not a JSON object');
  if ('*' in compact) {
    const cookie = compact['*'];
    if (!isRecord(cookie)) return undefined;
    STORED_AS_IS.add(cookie);
    return cookie;
  }
  const cookie: Record<string, unknown> = {};
  for (const name of Object.keys(compact)) {
    const long = LONG_NAMES.get(name);
    if (long !== undefined) cookie[long] = compact[name];
  }
  if ('e' in compact) cookie.expires = null;
  else if (expiresAt !== null) cookie.expires = isoDate(expiresAt);
  if (compact.h !== null) cookie.httpOnly = compact.h ?? true;
  if (compact.p !== null) cookie.path = compact.p ?? '/';
  return cookie;
}

/**
 * Date#toISOString, remembering the last one: sessions read in the same millisecond with the same
 * lifetime (the common case under load: a read just moved the expiry to now + maxAge) share it.
 */
let lastExpiry = Number.NaN;
let lastIso = '';
function isoDate(ms: number): string {
  if (ms !== lastExpiry) {
    lastIso = new Date(ms).toISOString();
    lastExpiry = ms;
  }
  return lastIso;
}

const ATTRIBUTES = ['secure', 'httpOnly', 'domain', 'path', 'sameSite', 'priority', 'partitioned'] as const;

/**
 * Whether `cookie` (express-session's, at the end of a request) has the same attributes as the
 * `loaded` one (decodeCookie's result at the start), leaving out the expiry, which the TTL holds.
 * express-session re-derives originalMaxAge from the clock on every request (expires - Date.now(),
 * read a moment after expires was set), so on a busy machine it comes out a few ms shorter each
 * time: up to `tolerance` ms of it is not a change worth a write.
 */
export function sameCookieAttributes(loaded: Record<string, unknown>, cookie: unknown, tolerance: number): boolean {
  if (!isRecord(cookie)) return false;
  for (const name of ATTRIBUTES) if (loaded[name] !== cookie[name]) return false;
  // The expiry itself is the TTL's, but whether there is one is the cookie's. A cookie stored as
  // it is (not compact), or about to be, is compared by writing it again.
  if (expiryKind(loaded.expires) !== expiryKind(cookie.expires) || STORED_AS_IS.has(loaded)) return false;
  if (typeof cookie.toJSON !== 'function' && !isCompactable(cookie)) return false;
  const a = loaded.originalMaxAge;
  const b = cookie.originalMaxAge;
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= tolerance;
  return a === b;
}

function expiryKind(expires: unknown): 'none' | 'absent' | 'date' {
  return expires === null ? 'none' : expires === undefined ? 'absent' : 'date';
}

/**
 * The cookie's JSON form, as `JSON.parse(JSON.stringify(session)).cookie` gives it (toJSON called
 * with its key, Date as ISO string, undefined left out, "__proto__" kept as an own key), without a
 * JSON round trip for the usual flat cookie. Undefined when JSON would leave the cookie out.
 * Throws as JSON.stringify does (BigInt, cycles).
 */
export function cookieJson(cookie: unknown): unknown {
  const data = (typeof cookie === 'object' && cookie !== null) || typeof cookie === 'bigint' ? parseMember(COOKIE_KEY, cookie, true) : cookie;
  if (!isRecord(data)) return typeof data === 'function' || typeof data === 'symbol' ? undefined : data;
  const plain: Record<string, unknown> = {};
  for (const name of Object.keys(data)) {
    const value = data[name];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    let json: unknown = value;
    if (value instanceof Date && value.toJSON === Date.prototype.toJSON) json = Number.isNaN(value.getTime()) ? null : value.toISOString();
    else if ((typeof value === 'object' && value !== null) || typeof value === 'bigint') json = parseMember(name, value);
    if (json === undefined) continue;
    if (name === '__proto__') Object.defineProperty(plain, name, { value: json, enumerable: true, writable: true, configurable: true });
    else plain[name] = json;
  }
  return plain;
}

const COOKIE_KEY = 'cookie';

/** A member's JSON form: JSON.parse of stringifyMember; `shallow` calls only its toJSON (the caller walks the rest). */
function parseMember(key: string, value: unknown, shallow = false): unknown {
  if (shallow) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    return typeof toJSON === 'function' ? (toJSON as (key: string) => unknown).call(value, key) : value;
  }
  const text = stringifyMember(key, value);
  return text === undefined ? undefined : JSON.parse(text);
}

/**
 * Why express-session could not load a cookie of this JSON form (it needs an object whose expiry
 * is a date or null, and whose ages are numbers), or undefined when it can. A session stored with
 * such a cookie would fail every request that loads it.
 */
export function cookieProblem(plain: unknown): string | undefined {
  if (!isRecord(plain)) return `must be an object like express-session's cookie, got ${plain === null ? 'null' : Array.isArray(plain) ? 'an array' : typeof plain}`;
  const { expires } = plain;
  if (expires !== undefined && expires !== null && (typeof expires !== 'string' || Number.isNaN(Date.parse(expires)))) {
    return `"expires" must be a date, null or absent, got ${JSON.stringify(expires)}`;
  }
  for (const name of ['originalMaxAge', 'maxAge'] as const) {
    const value = plain[name];
    if (value !== undefined && value !== null && typeof value !== 'number') return `"${name}" must be a number, null or absent, got ${JSON.stringify(value)}`;
  }
  return undefined;
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
