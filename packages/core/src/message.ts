/**
 * The change messages published on channel `<prefix><sid>`: a public contract (format 1),
 * documented in the README. Written by lua/write.lua and lua/destroy.lua, read here.
 *
 *   {"format":1,"event":"change","version":7,"set":{"cart":[1,2]},"unset":["flash"]}
 *   {"format":1,"event":"reload","version":8}
 *   {"format":1,"event":"destroy","version":9,"reason":"logout"}
 *
 * `version` grows by one with every message of a session, so a consumer that sees a gap knows
 * it missed one and reloads. The cookie is never published.
 */

export const MESSAGE_FORMAT = 1;

export interface ChangeMessage {
  event: 'change';
  version: number;
  /** New values of the keys that changed. */
  set: Record<string, unknown>;
  /** Keys that were removed. */
  unset: string[];
}

/**
 * Why a session ended: `logout` (destroy, regenerate), `expired` (its lifetime passed), `revoked`
 * (ended by the app on another session's behalf: destroySessionsOf, clear).
 */
export type DestroyReason = 'logout' | 'expired' | 'revoked';

const REASONS: ReadonlySet<string> = new Set<DestroyReason>(['logout', 'expired', 'revoked']);

export interface DestroyMessage {
  event: 'destroy';
  version: number;
  /** Added to format 1 later: a message without one (an older publisher) reads as `logout`. */
  reason: DestroyReason;
}

/**
 * A change too large to publish (over the store's `maxMessageBytes`): the version moved as for a
 * change, and the consumer reads the session (getSessionState) to see what it holds. Added to
 * format 1 later: an older consumer drops it as unknown and sees a version gap at the next message.
 */
export interface ReloadMessage {
  event: 'reload';
  version: number;
}

export type SessionMessage = ChangeMessage | ReloadMessage | DestroyMessage;

/** Parses a message; returns null for anything that is not a well-formed format-1 message. */
export function parseMessage(raw: string | Buffer): SessionMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString());
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const message = value as Record<string, unknown>;
  if (message.format !== MESSAGE_FORMAT || !Number.isSafeInteger(message.version)) return null;
  const version = message.version as number;
  if (message.event === 'destroy') {
    const reason = message.reason === undefined ? 'logout' : message.reason;
    return typeof reason === 'string' && REASONS.has(reason) ? { event: 'destroy', version, reason: reason as DestroyReason } : null;
  }
  if (message.event === 'reload') return { event: 'reload', version };
  if (message.event !== 'change') return null;
  const { set, unset } = message;
  if (typeof set !== 'object' || set === null || Array.isArray(set)) return null;
  if (!Array.isArray(unset) || !unset.every((key) => typeof key === 'string')) return null;
  return { event: 'change', version, set: set as Record<string, unknown>, unset: unset as string[] };
}
