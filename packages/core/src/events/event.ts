/**
 * The session events an app handles (`watchSessions`), and how they are stored: each one an entry
 * of its shard's stream with fields `t` (type), `s` (session id), `a` (time, ms) and `d` (what the
 * store recorded at creation: `<createdAt>:<JSON [user, info]>`).
 */

/** What happened: the session was created, or how it ended. */
export type SessionEventType = 'created' | 'destroyed' | 'expired' | 'revoked';

export const EVENT_TYPES: readonly SessionEventType[] = ['created', 'destroyed', 'expired', 'revoked'];

export interface SessionEvent {
  /**
   * `created`; `destroyed` by `destroy` (a logout, express-session's `regenerate`); `expired`: its
   * lifetime ran out (or a save found its cookie expired); `revoked` by `destroySessionsOf` or `clear`.
   */
  type: SessionEventType;
  /**
   * The same on every delivery of this event, and the same for the end of one session whatever ends
   * it: a handler that records it (a unique key in its database) does its work once. A session has
   * one `created` and one ending event per life: `c:<createdAt>:<sid>` and `e:<createdAt>:<sid>`.
   */
  id: string;
  /** The session id. */
  sid: string;
  /**
   * When it happened, ms since the epoch: the creation; the destroy; for `expired`, when the
   * lifetime ran out (Redis's expiry, not when the end was noticed).
   */
  at: number;
  /** When the session was created, ms since the epoch (0 if the store could not tell). */
  createdAt: number;
  /** Who the session belonged to (the store's `userOf` option) when it was created or last changed hands; null for no one. */
  user: string | null;
  /** What the store's `describe` option returned when the session joined that user; null without. */
  info: unknown;
  /** How many times this event has been delivered, this one included (1 the first time). */
  attempt: number;
}

/** Who handles what; an event without a handler here is acknowledged as handled. */
export type SessionEventHandlers = {
  [K in SessionEventType]?: (event: SessionEvent & { type: K }) => void | Promise<void>;
};

/** One stream entry as Redis gives it: [id, [field, value, ...]]. */
export type StreamEntry = [string, string[]];

/** The event of a stream entry; null for an entry that is not one (written by something else). */
export function decodeEvent(entry: unknown, attempt: number): SessionEvent | null {
  if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) return null;
  const fields = new Map<string, string>();
  const flat = entry[1] as unknown[];
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
  const type = fields.get('t') as SessionEventType | undefined;
  const sid = fields.get('s');
  const at = Number(fields.get('a'));
  if (!type || !EVENT_TYPES.includes(type) || sid === undefined || !Number.isFinite(at)) return null;
  const { createdAt, user, info } = decodeInfo(fields.get('d') ?? '');
  return { type, id: `${type === 'created' ? 'c' : 'e'}:${createdAt}:${sid}`, sid, at, createdAt, user, info, attempt };
}

/** What the shard keeps of a session: `<createdAt>:<JSON [user, info]>` (info as the `describe` JSON text). */
export function encodeInfo(createdAt: number, owner: { user: string; info: string } | null): string {
  return `${createdAt}:${encodeOwner(owner)}`;
}

/** The part of the info that changes when the session changes hands. */
export function encodeOwner(owner: { user: string; info: string } | null): string {
  return owner === null ? '[null,null]' : `[${JSON.stringify(owner.user)},${owner.info === '' ? 'null' : owner.info}]`;
}

function decodeInfo(data: string): { createdAt: number; user: string | null; info: unknown } {
  const colon = data.indexOf(':');
  const createdAt = colon > 0 ? Number(data.slice(0, colon)) : 0;
  let user: string | null = null;
  let info: unknown = null;
  try {
    const parsed = JSON.parse(data.slice(colon + 1)) as unknown;
    if (Array.isArray(parsed)) {
      user = typeof parsed[0] === 'string' ? parsed[0] : null;
      info = parsed[1] ?? null;
    }
  } catch {
    // not recorded by this store: the event still carries what the entry had
  }
  return { createdAt: Number.isFinite(createdAt) ? createdAt : 0, user, info };
}
