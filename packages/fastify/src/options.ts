/**
 * The plugin's options, declared once: their types with defaults, and the one function that checks
 * what an app passed (unknown options rejected, express-session options that mean nothing here
 * rejected with what to do instead).
 */
import type { LiveSessionStore } from '@live-session/core';
import type session from 'express-session';
import { closest, distance } from 'fastest-levenshtein';
import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/** Options of `app.register(fastifyLiveSession, options)`: express-session's, with its meanings. */
export interface FastifyLiveSessionOptions {
  /** The store (`new LiveSessionStore({ client })` from @live-session/core). */
  store: LiveSessionStore;
  /**
   * The secret that signs the session cookie, or several: the first signs, any of them verifies
   * (to rotate, put the new one first). The same as the Express servers' `secret` when a fleet
   * mixes them: the cookie is express-session's (`s:` + cookie-signature).
   */
  secret: string | string[];
  /**
   * Name of the session cookie.
   * @default "connect.sid" (express-session's)
   */
  name?: string;
  /**
   * Cookie attributes of a new session, as express-session's `cookie` option (`maxAge` in ms,
   * `secure: 'auto'` follows `request.protocol`, which honours Fastify's `trustProxy`). A loaded
   * session keeps the cookie it was stored with; change one through `request.session.cookie`.
   * @default { path: '/', httpOnly: true, secure: false, maxAge: null } (a browser-session cookie)
   */
  cookie?: session.CookieOptions;
  /**
   * Store a new session that the request did not modify (and send its cookie). False keeps
   * visitors who never log in or add anything out of Redis.
   * @default false
   */
  saveUninitialized?: boolean;
  /**
   * Send the cookie on every response, so its expiry moves forward with each request (the store's
   * expiry moves on every request either way).
   * @default false
   */
  rolling?: boolean;
  /**
   * Save the session at the end of every request, even unmodified. Not needed with this store (an
   * unmodified session is touched, and a save writes only what changed): only for parity.
   * @default false
   */
  resave?: boolean;
  /**
   * Makes the id of a new session.
   * @default 24 random bytes in base64url (32 characters, as express-session's)
   */
  genid?: (request: FastifyRequest) => string;
}

/** Every option with its value. */
export type ResolvedOptions = Required<Omit<FastifyLiveSessionOptions, 'secret'>> & { secrets: string[] };

const DEFAULTS = {
  name: 'connect.sid',
  cookie: {},
  saveUninitialized: false,
  rolling: false,
  resave: false,
  genid: () => randomBytes(24).toString('base64url'),
} satisfies Omit<ResolvedOptions, 'store' | 'secrets'>;

/** The options' names (the type makes this list complete). */
const NAMES: { [K in keyof FastifyLiveSessionOptions]-?: true } = {
  store: true,
  secret: true,
  name: true,
  cookie: true,
  saveUninitialized: true,
  rolling: true,
  resave: true,
  genid: true,
};

/** express-session's options that have no place here, and what to do instead. */
const EXPRESS_ONLY: Record<string, string> = {
  proxy: 'Fastify decides whether a request is secure: set Fastify\'s own "trustProxy" option (request.protocol then follows X-Forwarded-Proto)',
  unset: 'call `await request.session.destroy()` to end a session',
  key: 'it is the old name of "name"',
};

/** express-session's cookie attributes (CookieOptions); anything else is a typo. */
const COOKIE_ATTRIBUTES = new Set(['maxAge', 'expires', 'httpOnly', 'path', 'domain', 'secure', 'sameSite', 'priority', 'partitioned', 'signed', 'encode']);

export function resolveOptions(options: FastifyLiveSessionOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('fastifyLiveSession needs options: { store, secret }');
  const given = options as unknown as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (Object.hasOwn(NAMES, name)) continue;
    if (Object.hasOwn(EXPRESS_ONLY, name)) throw new TypeError(`fastifyLiveSession has no option "${name}" (express-session's): ${EXPRESS_ONLY[name]}`);
    throw new TypeError(`fastifyLiveSession has no option "${name}"${suggestion(name, Object.keys(NAMES))}. Options: ${Object.keys(NAMES).join(', ')}`);
  }
  const store = given.store;
  if (typeof store !== 'object' || store === null || typeof (store as { createSession?: unknown }).createSession !== 'function') {
    throw new TypeError('fastifyLiveSession option "store" must be a LiveSessionStore (new LiveSessionStore({ client }) from @live-session/core)');
  }
  return {
    store: store as LiveSessionStore,
    secrets: checkSecrets(given.secret),
    name: given.name === undefined ? DEFAULTS.name : checkName(given.name),
    cookie: given.cookie === undefined ? DEFAULTS.cookie : checkCookie(given.cookie),
    saveUninitialized: given.saveUninitialized === undefined ? DEFAULTS.saveUninitialized : checkBoolean(given.saveUninitialized, 'saveUninitialized'),
    rolling: given.rolling === undefined ? DEFAULTS.rolling : checkBoolean(given.rolling, 'rolling'),
    resave: given.resave === undefined ? DEFAULTS.resave : checkBoolean(given.resave, 'resave'),
    genid: given.genid === undefined ? DEFAULTS.genid : checkFunction(given.genid, 'genid'),
  };
}

function checkSecrets(value: unknown): string[] {
  const secrets = Array.isArray(value) ? value : [value];
  if (secrets.length === 0 || !secrets.every((secret) => typeof secret === 'string' && secret.length > 0)) {
    throw new TypeError(`fastifyLiveSession option "secret" must be a non-empty string or a non-empty array of them (the first signs the cookie), got ${describe(value)}`);
  }
  return secrets as string[];
}

function checkName(value: unknown): string {
  // A cookie name is an RFC 6265 token.
  if (typeof value !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(value)) {
    throw new TypeError(`fastifyLiveSession option "name" must be a cookie name (letters, digits, !#$%&'*+-.^_\`|~), got ${describe(value)}`);
  }
  return value;
}

function checkCookie(value: unknown): session.CookieOptions {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`fastifyLiveSession option "cookie" must be an object of cookie attributes (express-session's CookieOptions), got ${describe(value)}`);
  }
  for (const name of Object.keys(value)) {
    if (!COOKIE_ATTRIBUTES.has(name)) {
      throw new TypeError(`fastifyLiveSession option "cookie" has no attribute "${name}"${suggestion(name, [...COOKIE_ATTRIBUTES])}. Attributes: ${[...COOKIE_ATTRIBUTES].join(', ')}`);
    }
  }
  const { maxAge } = value as session.CookieOptions;
  if (maxAge !== undefined && maxAge !== null && (typeof maxAge !== 'number' || !(maxAge > 0))) {
    throw new TypeError(`fastifyLiveSession option "cookie.maxAge" must be a number of ms > 0 (or null for a browser-session cookie), got ${describe(maxAge)}`);
  }
  return value as session.CookieOptions;
}

function checkBoolean(value: unknown, name: string): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`fastifyLiveSession option "${name}" must be true or false, got ${describe(value)}`);
  return value;
}

function checkFunction(value: unknown, name: string): (request: FastifyRequest) => string {
  if (typeof value !== 'function') throw new TypeError(`fastifyLiveSession option "${name}" must be a function, got ${describe(value)}`);
  return value as (request: FastifyRequest) => string;
}

/** "; did you mean ..." when `name` looks like a typo of one of `known`. */
function suggestion(name: string, known: string[]): string {
  const lower = name.toLowerCase();
  const nearest = closest(lower, known.map((k) => k.toLowerCase()));
  const match = known.find((k) => k.toLowerCase() === nearest);
  return match !== undefined && distance(lower, nearest) <= Math.max(2, Math.floor(name.length / 3)) ? `; did you mean "${match}"?` : '';
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'function' ? 'a function' : value === null ? 'null' : typeof value === 'object' ? 'an object' : String(value);
}
