/**
 * What one request's save writes, decided in one place: from what the request loaded and what it
 * holds now, one write plan (which fields to set, which to delete, the expiry, patch or replace).
 * No Redis here: store.ts sends the plan to lua/write.lua and keeps what it wrote as the request's
 * new snapshot.
 */
import { cookieExpiry, decodeCookie, refreshInterval, sameCookieAttributes } from './cookie';
import { COOKIE_FIELD, encodeSession, type LoadedSession, REFRESH_FIELD, sameStoredValue } from './fields';

/** What a request loaded (a LoadedSession) or last wrote: what its save is compared against. */
export type Snapshot = Pick<LoadedSession, 'sid' | 'storedFields' | 'cookie' | 'expiresAt'>;

/** PEXPIREAT ms, or PEXPIRE ms. */
export type CookieExpiry = { kind: 'at' | 'in'; ms: number };

export interface SavePlan {
  /** 'patch': only what changed since the load (the session must still exist); 'replace': the whole session. */
  mode: 'patch' | 'replace';
  expiry: CookieExpiry;
  set: [string, string][];
  del: string[];
  /** The stored fields once the plan is written: what this request's next save compares against. */
  fields: Map<string, string>;
  /** The cookie as stored once the plan is written. */
  cookie: Record<string, unknown> | undefined;
}

export interface PlanOptions {
  /** The lifetime of a session whose cookie has no expiry (the store's `lifetime`). */
  lifetime: number;
  /** How much `originalMaxAge` drift is not a cookie change (the store's `touchGrace`). */
  touchGrace: number;
}

/**
 * The plan of `store.set(sid, session)` by a request that loaded `loaded` (undefined: the session
 * was not loaded through this request, so it is written whole), or 'expired' when its cookie has
 * already expired (the store then deletes the session). Throws what encoding throws
 * (ERR_LIVE_SESSION_UNSERIALIZABLE) before anything is sent.
 */
export function planSave(sid: string, session: { cookie?: unknown }, loaded: Snapshot | undefined, options: PlanOptions): SavePlan | 'expired' {
  // An unchanged cookie is neither encoded again nor written.
  const keepCookie = loaded?.cookie !== undefined && sameCookieAttributes(loaded.cookie, session.cookie, options.touchGrace);
  const fields = encodeSession(sid, session, { withoutCookie: keepCookie });
  const expiry = expiryOf(session.cookie, options.lifetime);
  if (expiry.kind === 'at' && expiry.ms <= Date.now()) return 'expired';
  const refresh = refreshFields(session.cookie, options.lifetime);
  const expiresAt = expiryTime(expiry);
  if (!loaded) {
    const stored = fields.get(COOKIE_FIELD);
    return { mode: 'replace', expiry, set: [...fields, ...refresh.set], del: refresh.del, fields, cookie: stored === undefined ? undefined : decodeCookie(stored, expiresAt) };
  }
  // Only what this request changed: concurrent requests changing other keys all survive.
  const stored = loaded.storedFields();
  const set: [string, string][] = [];
  const del: string[] = [];
  for (const [field, value] of fields) if (!sameStoredValue(stored.get(field), value)) set.push([field, value]);
  for (const field of stored.keys()) if (!fields.has(field) && !(keepCookie && field === COOKIE_FIELD)) del.push(field);
  if (keepCookie) fields.set(COOKIE_FIELD, stored.get(COOKIE_FIELD)!);
  const cookieText = fields.get(COOKIE_FIELD);
  const cookie = keepCookie ? loaded.cookie : cookieText === undefined ? undefined : decodeCookie(cookieText, expiresAt);
  return { mode: 'patch', expiry, set: [...set, ...refresh.set], del: [...del, ...refresh.del], fields, cookie };
}

/** Where a cookie puts the session's expiry: its own `expires`, else `lifetime` after this use. */
export function expiryOf(cookie: unknown, lifetime: number): CookieExpiry {
  const at = cookieExpiry(cookie);
  return at === null ? { kind: 'in', ms: lifetime } : { kind: 'at', ms: at };
}

/** The `$t` field: how far reads push the expiry forward, or its removal when the cookie fixes it. */
export function refreshFields(cookie: unknown, lifetime: number): { set: [string, string][]; del: string[] } {
  const interval = refreshInterval(cookie, lifetime);
  return interval === null ? { set: [], del: [REFRESH_FIELD] } : { set: [[REFRESH_FIELD, String(interval)]], del: [] };
}

/** The expiry as ms since the epoch. */
export function expiryTime(expiry: CookieExpiry): number {
  return expiry.kind === 'at' ? expiry.ms : Date.now() + expiry.ms;
}
