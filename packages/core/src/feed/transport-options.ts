/**
 * Options of the live transports (@live-session/sse, @live-session/ws) checked once where they
 * enter, the way the store checks its own: each option declared once with its check and default,
 * anything else rejected with the closest known name.
 */
import { closest, distance } from 'fastest-levenshtein';
import type { SessionView } from '../replica';
import type { LiveSessionStore } from '../store';
import { checkCookieOptions } from './request-session';

/** The options every live transport takes (@live-session/sse, @live-session/ws extend them). */
export interface LiveTransportOptions {
  /** The store the sessions live in. */
  store: LiveSessionStore;
  /**
   * What the client may see of its session: called with the session's view (no cookie) once per
   * change; the result is sent as an `update` (JSON) when it differs from the last one sent.
   * @default undefined: no session data is sent, only the end of the session
   */
  expose?: (session: SessionView) => unknown;
  /**
   * express-session's `secret` (one, or several: every one verifies): the session id is then read
   * from the request's signed cookie when express-session's middleware did not run on it (Fastify,
   * a plain `http` server, a WebSocket upgrade). Without it, only requests that went through
   * express-session's middleware have a session.
   * @default undefined
   */
  secret?: string | string[];
  /**
   * express-session's cookie `name`.
   * @default "connect.sid"
   */
  name?: string;
}

/** How one option is checked, and its value when absent (undefined). */
export interface TransportOptionSpec<T> {
  /** The value when absent; omitted for a required option (check() then says what is missing). */
  default?: () => T;
  check(value: unknown, name: string, where: string): T;
}

export type TransportOptionSpecs<T> = { [K in keyof T]-?: TransportOptionSpec<T[K]> };

/** Resolves `given` against `specs`: a TypeError for an unknown option (with a suggestion) or a wrong value. */
export function resolveTransportOptions<T>(where: string, given: unknown, specs: TransportOptionSpecs<T>): T {
  if (typeof given !== 'object' || given === null) throw new TypeError(`${where} needs options: { store, ... }`);
  const options = given as Readonly<Record<string, unknown>>;
  const known = Object.keys(specs);
  for (const name of Object.keys(options)) {
    if (Object.hasOwn(specs, name)) continue;
    const nearest = closest(name.toLowerCase(), known.map((k) => k.toLowerCase()));
    const suggestion = known.find((k) => k.toLowerCase() === nearest);
    const close = suggestion !== undefined && distance(name.toLowerCase(), nearest) <= Math.max(2, Math.floor(name.length / 3));
    throw new TypeError(`${where} has no option "${name}"${close ? `; did you mean "${suggestion}"?` : ''} Options: ${known.join(', ')}`);
  }
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs) as [string, TransportOptionSpec<unknown>][]) {
    const value = options[name];
    resolved[name] = value === undefined && spec.default ? spec.default() : spec.check(value, name, where);
  }
  return resolved as T;
}

/** Checks for the options every transport shares. */
export const optionChecks = {
  store<T>(value: unknown, _name: string, where: string): T {
    if (typeof value !== 'object' || value === null || typeof (value as { keyOf?: unknown }).keyOf !== 'function' || !('replica' in value)) {
      throw new TypeError(`${where} needs { store }: a LiveSessionStore from @live-session/core`);
    }
    return value as T;
  },
  optionalFunction<F>(value: unknown, name: string, where: string): F | undefined {
    if (value === undefined || typeof value === 'function') return value as F | undefined;
    throw new TypeError(`${where} option "${name}" must be a function, got ${describe(value)}`);
  },
  /** A whole number of ms >= min; 0 where `min` is 0 means "off". */
  wholeNumber(min: number) {
    return (value: unknown, name: string, where: string): number => {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
        throw new TypeError(`${where} option "${name}" must be a whole number >= ${min}, got ${describe(value)}`);
      }
      return value;
    };
  },
  boolean(value: unknown, name: string, where: string): boolean {
    if (typeof value !== 'boolean') throw new TypeError(`${where} option "${name}" must be true or false, got ${describe(value)}`);
    return value;
  },
  optionalString(value: unknown, name: string, where: string): string | undefined {
    if (value === undefined || (typeof value === 'string' && value.length > 0)) return value;
    throw new TypeError(`${where} option "${name}" must be a non-empty string, got ${describe(value)}`);
  },
};

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'function' ? 'a function' : String(value);
}

/** The checks of LiveTransportOptions, for a transport's own specs to extend. */
export const TRANSPORT_OPTION_SPECS = {
  store: { check: optionChecks.store<LiveSessionStore> },
  expose: { check: optionChecks.optionalFunction<(session: SessionView) => unknown> },
  secret: { check: (value: unknown) => value as string | string[] | undefined }, // checked with `name` by transportCookie
  name: { check: optionChecks.optionalString },
};

/** The signed-cookie check of resolved transport options (undefined without a secret: express-session's middleware only). */
export function transportCookie({ secret, name }: Pick<LiveTransportOptions, 'secret' | 'name'>, where: string): ReturnType<typeof checkCookieOptions> {
  if (secret === undefined && name !== undefined) throw new TypeError(`${where}: "name" needs "secret" (express-session's) to check the signed cookie`);
  return secret === undefined ? undefined : checkCookieOptions({ secret, name }, where);
}
