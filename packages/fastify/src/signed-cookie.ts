/**
 * express-session's signed cookie value: `s:` + cookie-signature's `<id>.<HMAC-SHA256, base64>`.
 * The same format on every server, Express or Fastify, so one browser session works on both.
 */
import signature from 'cookie-signature';

const PREFIX = 's:';

/** The cookie value for a session id, signed with the first secret. */
export function signSessionId(sid: string, secrets: readonly string[]): string {
  return PREFIX + signature.sign(sid, secrets[0]);
}

/**
 * The session id in a cookie value, when one of the secrets signed it; undefined for anything else
 * (no cookie, an unsigned id, a forged or tampered signature), which the request treats as no
 * cookie at all, as express-session does.
 */
export function verifiedSessionId(value: unknown, secrets: readonly string[]): string | undefined {
  if (typeof value !== 'string' || !value.startsWith(PREFIX)) return undefined;
  const signed = value.slice(PREFIX.length);
  for (const secret of secrets) {
    const sid = signature.unsign(signed, secret);
    if (sid !== false && sid.length > 0) return sid;
  }
  return undefined;
}
