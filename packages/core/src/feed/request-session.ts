/**
 * The session id of an HTTP request (an SSE request, a WebSocket upgrade), only ever as
 * express-session would read it: from express-session's middleware when it ran on the request
 * (`req.sessionID`, which it read from the signed cookie), else from the signed cookie itself,
 * checked the way express-session checks it (`s:` + cookie-signature's HMAC-SHA256 with one of the
 * secrets, the first cookie of that name). Anything else (no cookie, an unsigned id, a forged or
 * tampered signature) is no session.
 */
import type { IncomingMessage } from 'node:http';
import { parse } from 'cookie';
import signature from 'cookie-signature';

/** How the app's express-session (or a Fastify plugin writing the same cookie) names and signs the session cookie. */
export interface SignedCookieOptions {
  /** express-session's `secret`: one, or several (the first signs, every one verifies). */
  secret: string | readonly string[];
  /** express-session's `name`. @default "connect.sid" */
  name?: string;
}

const SIGNED_PREFIX = 's:';
export const DEFAULT_COOKIE_NAME = 'connect.sid';

/** Checks the cookie options once, where they enter (a missing secret is a setup mistake, not a refused request). */
export function checkCookieOptions(options: SignedCookieOptions | undefined, where: string): { secrets: readonly string[]; name: string } | undefined {
  if (options === undefined) return undefined;
  const secrets = typeof options.secret === 'string' ? [options.secret] : options.secret;
  if (!Array.isArray(secrets) || secrets.length === 0 || secrets.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new TypeError(`${where}: "secret" is express-session's secret: a non-empty string or array of strings`);
  }
  const name = options.name ?? DEFAULT_COOKIE_NAME;
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`${where}: "name" is the session cookie's name (express-session's "name")`);
  return { secrets: [...secrets], name };
}

/**
 * The request's session id: express-session's when its middleware ran on this request, else the
 * one in the signed cookie (needs `cookie`); undefined when there is none that can be trusted.
 */
export function sessionIdOfRequest(req: IncomingMessage, cookie: { secrets: readonly string[]; name: string } | undefined): string | undefined {
  const fromMiddleware = expressSessionId(req);
  if (fromMiddleware !== null) return fromMiddleware;
  if (!cookie) return undefined;
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  let value: string | undefined;
  try {
    value = parse(header)[cookie.name];
  } catch {
    return undefined; // a malformed header: no cookie
  }
  return verifiedSessionId(value, cookie.secrets);
}

/** express-session's cookie value for a session id, signed with the first secret. */
export function signSessionId(sid: string, secrets: readonly string[]): string {
  return SIGNED_PREFIX + signature.sign(sid, secrets[0]);
}

/** The id in an express-session cookie value, when one of the secrets signed it. */
export function verifiedSessionId(value: unknown, secrets: readonly string[]): string | undefined {
  if (typeof value !== 'string' || !value.startsWith(SIGNED_PREFIX)) return undefined;
  const signed = value.slice(SIGNED_PREFIX.length);
  for (const secret of secrets) {
    const sid = signature.unsign(signed, secret);
    if (sid !== false && sid.length > 0) return sid;
  }
  return undefined;
}

/**
 * What express-session's middleware decided for this request: the id (read from the signed cookie,
 * or new and not stored), undefined when it ran and left no id, null when it did not run.
 * `req.sessionStore` is set by the middleware on every request it handles.
 */
function expressSessionId(req: IncomingMessage): string | undefined | null {
  const handled = req as IncomingMessage & { sessionStore?: unknown; sessionID?: unknown };
  if (handled.sessionStore === undefined) return null;
  return typeof handled.sessionID === 'string' && handled.sessionID.length > 0 ? handled.sessionID : undefined;
}
