/**
 * How a session maps onto one Redis hash: one field per top-level key, values as JSON, the cookie
 * in its compact form (cookie.ts), and metadata in fields that no application key can take.
 */
import { cookieJson, cookieProblem, decodeCookie, encodeCookie, expandCookie } from './cookie';
import { LiveSessionError } from './errors';
import { stringifyMember } from './json';

/**
 * Metadata fields are `$` followed by anything but `$` or `"`; an application key starting with `$`
 * gets one more. A key that is not well-formed UTF-16 (a lone surrogate) would reach Redis as UTF-8
 * with U+FFFD in its place, merging distinct keys: it is stored as `$` and its JSON text, which
 * escapes the surrogate.
 */
export const VERSION_FIELD = '$v';
export const CREATED_FIELD = '$c';
/** How far a read pushes the expiry forward (ms); absent when the cookie fixes the expiry. */
export const REFRESH_FIELD = '$t';
/**
 * The expiry (ms since the epoch) a write or scripted refresh set with PEXPIREAT, recorded where a
 * plain read needs it: always for a session without refresh interval (a fixed expiry, which an
 * HGETALL then learns without PTTL), and by every write and refresh of a store with `touchAfter`,
 * which measures the lag from it. The key's real expiry is never earlier (plain refreshes only
 * push it later without recording it); a write that does not record it removes it.
 */
export const EXPIRY_FIELD = '$e';
export const COOKIE_FIELD = 'cookie';

/** With the `u` flag a surrogate pair is one code point: this matches only a lone surrogate. */
export const LONE_SURROGATE = /\p{Surrogate}/u;

export function fieldOf(key: string): string {
  if (LONE_SURROGATE.test(key)) return `$${JSON.stringify(key)}`;
  return key.startsWith('$') ? `$${key}` : key;
}

/** The application key stored in a field, or undefined for a metadata field. */
export function keyOf(field: string): string | undefined {
  if (!field.startsWith('$')) return field;
  if (field.startsWith('$$')) return field.slice(1);
  return field.startsWith('$"') ? (JSON.parse(field.slice(1)) as string) : undefined;
}

/** A session's data as JSON-ready values: what reaches `set` and what `get` returns. */
export type SessionRecord = Record<string, unknown>;

/** A session as read from Redis. */
export interface LoadedSession {
  readonly sid: string;
  /** The session, with `cookie` decoded; keys such as `__proto__` are plain own properties. */
  readonly data: SessionRecord;
  /** The decoded cookie, or undefined when the session has none. */
  readonly cookie: Record<string, unknown> | undefined;
  /** Grows by one with every published change. */
  readonly version: number;
  /** Creation time, ms since the epoch. */
  readonly createdAt: number;
  /** When Redis will drop the session, ms since the epoch; null when it has no TTL. */
  readonly expiresAt: number | null;
  /** How far a read pushes the expiry (`$t`, ms), null when the cookie fixes it; undefined when not read. */
  readonly refreshInterval?: number | null;
  /**
   * The stored application fields (cookie included) as strings: what a save compares against.
   * Computed on first use, from what was read, whatever the app has done to `data` since.
   */
  storedFields(): Map<string, string>;
}

/**
 * Decodes lua/session-document.lua's JSON text: [pttl, version, created, count, [key, value, ...]].
 * Returns undefined when it is not exactly that (a stored value that is not one JSON value): the
 * caller then reads the stored strings one by one (HGETALL: decodeSession), which names the culprit.
 */
export function decodeSessionDocument(sid: string, text: string, now = Date.now()): LoadedSession | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(doc) || doc.length !== 5) return undefined;
  const pttl = doc[0] as number;
  const flat: unknown = doc[4];
  if (!Array.isArray(flat) || flat.length !== 2 * doc[3]) return undefined;
  const expiresAt = pttl >= 0 ? now + pttl : null;
  const data: SessionRecord = {};
  let cookie: Record<string, unknown> | undefined;
  for (let i = 0; i < flat.length; i += 2) {
    const key: unknown = flat[i];
    let value: unknown = flat[i + 1];
    if (typeof key !== 'string') return undefined;
    if (key === COOKIE_FIELD) {
      try {
        value = cookie = expandCookie(value, expiresAt);
      } catch {
        return undefined;
      }
      if (value === undefined) continue;
    }
    setKey(data, key, value);
  }
  return new DocumentSession(sid, text, data, cookie, doc[1] as number, doc[2] as number, expiresAt);
}

/** A session read as a document (one object per read: this is the hot path). */
class DocumentSession implements LoadedSession {
  private stored: Map<string, string> | undefined;

  constructor(
    readonly sid: string,
    private readonly text: string,
    readonly data: SessionRecord,
    readonly cookie: Record<string, unknown> | undefined,
    readonly version: number,
    readonly createdAt: number,
    readonly expiresAt: number | null,
  ) {}

  storedFields(): Map<string, string> {
    return (this.stored ??= fieldsOfDocument(this.text));
  }

  /** storedFields as a function that keeps only the document text (and the fields once computed). */
  detachedStoredFields(): () => Map<string, string> {
    const { stored, text } = this;
    return stored ? () => stored : onFirstUse(() => fieldsOfDocument(text));
  }
}

/** Decodes HGETALL's flat [field, value, ...] reply. Throws ERR_LIVE_SESSION_CORRUPT naming the field. */
export function decodeSession(sid: string, flat: string[], pttl: number, now = Date.now()): LoadedSession {
  const expiresAt = pttl >= 0 ? now + pttl : null;
  return decodeFields(sid, flat, expiresAt, expiresAt);
}

/**
 * Decodes the session a write returns (lua/write.lua): its HGETALL, and the expiry the write set
 * (text, ms since the epoch) or, when it did not set one, the key's PTTL (a number).
 */
export function decodeWrittenSession(sid: string, flat: string[], expiry: string | number): LoadedSession {
  if (typeof expiry === 'number') return decodeSession(sid, flat, expiry);
  const expiresAt = Number(expiry);
  return decodeFields(sid, flat, expiresAt, expiresAt);
}

/**
 * Decodes an HGETALL reply read without PTTL (the `get` of a request): the expiry comes from the
 * hash. A session that a read refreshes (it has `$t`) shows the cookie as this request's touch will
 * leave it, `$t` from now, as a refreshing read would; `expiresAt` is the stored `$e` (a lower
 * bound: what `touch` compares the cookie against) or null when absent. Undefined for a session
 * whose expiry only PTTL can tell (a fixed expiry stored before `$e` existed): read it with PTTL.
 * Throws ERR_LIVE_SESSION_CORRUPT naming the field.
 */
export function decodeHash(sid: string, flat: string[], now = Date.now()): LoadedSession | undefined {
  let refresh: string | undefined;
  let stored: string | undefined;
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === REFRESH_FIELD) refresh = flat[i + 1];
    else if (flat[i] === EXPIRY_FIELD) stored = flat[i + 1];
  }
  const expiresAt = stored === undefined ? null : Number(stored);
  if (refresh !== undefined) return decodeFields(sid, flat, now + Number(refresh), expiresAt);
  return expiresAt === null ? undefined : decodeFields(sid, flat, expiresAt, expiresAt);
}

/** `cookieExpiresAt` is the expiry the decoded cookie shows; `expiresAt` what the session reports. */
function decodeFields(sid: string, flat: string[], cookieExpiresAt: number | null, expiresAt: number | null): LoadedSession {
  const data: SessionRecord = {};
  let cookie: Record<string, unknown> | undefined;
  let version = 0;
  let createdAt = 0;
  let refreshInterval: number | null = null;
  for (let i = 0; i < flat.length; i += 2) {
    const field = flat[i];
    const stored = flat[i + 1];
    let key: string | undefined;
    try {
      key = keyOf(field);
    } catch (cause) {
      throw new LiveSessionError('ERR_LIVE_SESSION_CORRUPT', `session "${sid}": hash field "${field}" is not a key this store wrote: ${(cause as Error).message}`, { cause });
    }
    if (key === undefined) {
      if (field === VERSION_FIELD) version = Number(stored);
      else if (field === CREATED_FIELD) createdAt = Number(stored);
      else if (field === REFRESH_FIELD) refreshInterval = Number(stored);
      continue;
    }
    let value: unknown;
    try {
      value = field === COOKIE_FIELD ? (cookie = decodeCookie(stored, cookieExpiresAt)) : JSON.parse(stored);
    } catch (cause) {
      throw corruptField(sid, field, cause);
    }
    if (value === undefined) continue; // a cookie express-session cannot load, read as none (see expandCookie)
    setKey(data, key, value);
  }
  return { sid, data, cookie, version, createdAt, expiresAt, refreshInterval, storedFields: onFirstUse(() => fieldsOfHash(flat)) };
}

/** `build`'s result, computed on first call and kept (a snapshot's stored fields: only a save needs them). */
function onFirstUse<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= build());
}

/** The application fields of an HGETALL reply, as stored. */
function fieldsOfHash(flat: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) if (keyOf(flat[i]) !== undefined) fields.set(flat[i], flat[i + 1]);
  return fields;
}

/** The application fields of a session document, encoded again: the same strings as stored, for everything the store wrote. */
function fieldsOfDocument(text: string): Map<string, string> {
  const flat = (JSON.parse(text) as unknown[])[4] as unknown[];
  const fields = new Map<string, string>();
  for (let i = 0; i < flat.length; i += 2) fields.set(fieldOf(flat[i] as string), JSON.stringify(flat[i + 1]));
  return fields;
}

/**
 * What a request keeps of the session it loaded, for its save to compare against: no data (the
 * request's session holds its own copy of every key) and no document beyond what the stored
 * fields need. A socket keeps its handshake request, and so this, as long as it is connected.
 */
export function requestSnapshot(loaded: LoadedSession): Pick<LoadedSession, 'sid' | 'storedFields' | 'cookie' | 'expiresAt'> {
  const storedFields = loaded instanceof DocumentSession ? loaded.detachedStoredFields() : loaded.storedFields;
  return { sid: loaded.sid, storedFields, cookie: loaded.cookie, expiresAt: loaded.expiresAt };
}

/** A key named "__proto__" must stay data, never become the prototype. */
function setKey(data: SessionRecord, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(data, key, { value, enumerable: true, writable: true, configurable: true });
  else data[key] = value;
}

function corruptField(sid: string, field: string, cause: unknown): LiveSessionError {
  return new LiveSessionError(
    'ERR_LIVE_SESSION_CORRUPT',
    `session "${sid}": hash field "${field}" (key ${JSON.stringify(keyOf(field))}) does not hold valid JSON: ${(cause as Error).message}`,
    { cause },
  );
}

/**
 * Encodes every top-level key of a session to its field and stored string. Keys whose value JSON
 * leaves out (undefined, functions, symbols) are absent, as after a JSON round trip.
 * Throws ERR_LIVE_SESSION_UNSERIALIZABLE, naming the key, before anything is sent. `withoutCookie`
 * leaves the cookie out (a save that keeps the stored one).
 */
export function encodeSession(sid: string, session: object, { withoutCookie = false } = {}): Map<string, string> {
  const fields = new Map<string, string>();
  for (const key of Object.keys(session)) {
    if (withoutCookie && key === COOKIE_FIELD) continue;
    const value = (session as SessionRecord)[key];
    const stored = key === COOKIE_FIELD ? encodeStoredCookie(sid, value) : encodeValue(sid, key, value);
    if (stored !== undefined) fields.set(fieldOf(key), stored);
  }
  return fields;
}

/** JSON for one value, as JSON.stringify(session) writes it; undefined when JSON would leave the key out. */
export function encodeValue(sid: string, key: string, value: unknown): string | undefined {
  try {
    return stringifyMember(key, value);
  } catch (cause) {
    throw new LiveSessionError(
      'ERR_LIVE_SESSION_UNSERIALIZABLE',
      `session "${sid}": the value of key "${key}" cannot be stored as JSON (${(cause as Error).message}); nothing was written`,
      { cause },
    );
  }
}

/**
 * The stored string of a session's cookie; undefined for a session without one (the direct API
 * may store those; express-session gets a default cookie when it loads one, see store.ts).
 * Throws ERR_LIVE_SESSION_UNSERIALIZABLE for a cookie JSON cannot hold, and
 * ERR_LIVE_SESSION_INVALID_ARGUMENT for one express-session could not load.
 */
export function encodeStoredCookie(sid: string, cookie: unknown): string | undefined {
  if (cookie === undefined) return undefined;
  let json: unknown;
  try {
    json = cookieJson(cookie);
  } catch (cause) {
    throw new LiveSessionError(
      'ERR_LIVE_SESSION_UNSERIALIZABLE',
      `session "${sid}": its cookie cannot be stored as JSON (${(cause as Error).message}); nothing was written`,
      { cause },
    );
  }
  const problem = cookieProblem(json);
  if (problem !== undefined) {
    throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', `session "${sid}": its cookie ${problem}; nothing was written`);
  }
  return encodeCookie(json as Record<string, unknown>);
}

/** A stored string is the same value as a fresh encoding, even if another writer formatted it otherwise. */
export function sameStoredValue(stored: string | undefined, encoded: string): boolean {
  if (stored === undefined) return false;
  if (stored === encoded) return true;
  try {
    return JSON.stringify(JSON.parse(stored)) === encoded;
  } catch {
    return false;
  }
}
