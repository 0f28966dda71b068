/**
 * The sessions of a user (the `userOf` option): one sorted set per user at `<indexPrefix><user>`,
 * member = session id, score = the deadline until which the index keeps the session. The index key
 * and a session key are never in one command or script (on a Cluster they live in different
 * slots), so they are kept consistent by ordering and by checking:
 *
 * - a session never expires after its deadline: every script that moves its expiry caps it there
 *   (lua/user-index-session.lua), and asks for the index to be told a later deadline once the
 *   expiry comes near it;
 * - a session gets a new owner first (its expiry capped at a short grace), then the owner's index
 *   gets it, then the session records the deadline the index holds (lua/user-index-confirm.lua):
 *   a session that belongs to a user is always in the index or about to expire;
 * - a listing checks every member against its session and prunes the stale ones; the index key
 *   expires with its last deadline, so it is gone soon after its last session, read or not.
 */
import type session from 'express-session';
import type { IncomingMessage } from 'node:http';
import { LiveSessionError } from './errors';
import type { LoadedSession } from './fields';
import type { ResolvedOptions } from './options';
import { flatPairs, type RedisConnection } from './redis';
import { SCRIPTS } from './scripts';

type SessionData = session.SessionData;

/** One session of a user, as `store.sessionsOf(user)` lists it. */
export interface UserSession {
  /** The session id. */
  id: string;
  /** Creation time, ms since the epoch. */
  createdAt: number;
  /** When the session expires unless it is used again, ms since the epoch. */
  expiresAt: number;
  /**
   * The last read or write of the session, ms since the epoch: `expiresAt` minus its refresh
   * interval. null for a session whose cookie fixes its expiry (its reads do not move anything).
   */
  lastActiveAt: number | null;
  /** What the `describe` option returned when the session was added to this user, or null. */
  info: unknown;
}

/** What lua/user-index-session.lua asks of the client after a read or write. */
export interface IndexRequest {
  kind: 'moved' | 'due';
  /** The owner now ('' for none). */
  user: string;
  /** The owner before a move ('' for none). */
  previous: string;
  /** The expiry the script meant to set, ms (Redis's clock). */
  expiry: number;
  /** Redis's clock when the script ran, ms. */
  now: number;
}

/** Parses the index part of a get or write reply: [kind, user, previous, expiry, now]. */
export function indexRequestOf(parts: unknown[]): IndexRequest | undefined {
  if (parts.length < 5) return undefined;
  const [kind, user, previous, expiry, now] = parts;
  if ((kind !== 'moved' && kind !== 'due') || typeof user !== 'string' || typeof previous !== 'string') return undefined;
  return { kind, user, previous, expiry: Number(expiry), now: Number(now) };
}

/** With a user index: who a write says the session belongs to, and (lazily) its description. */
export type WriteIndex = { spec: string; info: () => string };

/** The owner recorded in a session's hash (`$u`), from its HGETALL; null for none. */
export function ownerInHash(flat: readonly string[]): string | null {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === '$u') return flat[i + 1];
  return null;
}

/** An indexed get reply: [reply, owner, ...index request]; starts a due refresh in the background. */
export function unwrapIndexed(sid: string, key: string, reply: unknown, index: UserIndex): { text: string; owner: string | null } | null {
  if (reply === null) return null;
  const parts = reply as unknown[];
  if (parts.length > 2) {
    const request = indexRequestOf(parts.slice(2));
    if (request) index.handle(key, sid, request, () => '').catch(() => undefined); // a read only ever asks for a background refresh
  }
  return { text: parts[0] as string, owner: (parts[1] as string | null | undefined) ?? null };
}

/** How long a session with a new owner may live before its owner's index has it (ms, at least). */
const PROVISIONAL_GRACE = 60_000;
const MAX_USER_LENGTH = 512;

type Call = <T>(what: string, operation: () => Promise<T>) => Promise<T>;
type Fail = (what: string, err: unknown) => LiveSessionError;

export class UserIndex {
  readonly userOf: (session: SessionData) => string | null | undefined;
  private readonly describe: ResolvedOptions['describe'];
  /**
   * The owner a read found, kept on what the read returned (and on a save's snapshot) under this
   * symbol: a WeakMap costs garbage collection once per read (see the store's snapshotSlot).
   */
  private readonly ownerSlot = Symbol('live-session owner');
  /** Sessions whose index refresh is under way in this process (one at a time each). */
  private readonly refreshing = new Set<string>();
  private readonly grace: number;

  constructor(
    private readonly redis: RedisConnection,
    private readonly options: Readonly<ResolvedOptions>,
    private readonly call: Call,
    private readonly fail: Fail,
    userOf: (session: SessionData) => string | null | undefined,
  ) {
    this.userOf = userOf;
    this.describe = options.describe;
    this.grace = Math.max(PROVISIONAL_GRACE, 10 * options.timeout);
  }

  keyOf(user: string): string {
    return this.options.indexPrefix + checkUser(user, 'a user');
  }

  /** The owner of a session as the app's `userOf` says, checked. */
  ownerOf(sid: string, data: SessionData): string | null {
    let user: unknown;
    try {
      user = this.userOf(data);
    } catch (cause) {
      throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', `session "${sid}": the "userOf" option threw: ${(cause as Error).message}; nothing was written`, { cause });
    }
    return user === null || user === undefined ? null : checkUser(user, `"userOf" of session "${sid}"`);
  }

  /** The index argument of a save that says who the session belongs to. */
  specOf(owner: string | null): string {
    return owner === null ? '-' : `+${this.grace}:${owner}`;
  }

  rememberOwner(holder: object, owner: string | null): void {
    (holder as Record<symbol, string | null>)[this.ownerSlot] = owner;
  }

  ownerRead(holder: object | undefined): string | null | undefined {
    return holder === undefined ? undefined : (holder as Record<symbol, string | null | undefined>)[this.ownerSlot];
  }

  /**
   * What a save tells the index: the owner, and the app's description of the session when it may
   * join an owner's index (computed before the write, so a throwing `describe` writes nothing).
   * `loaded` is what the request read (its owner remembered by rememberOwner).
   */
  ofSave(sid: string, data: SessionData, req: IncomingMessage | undefined, owner: string | null, loaded: object | undefined): WriteIndex {
    const info = owner !== null && owner !== this.ownerRead(loaded) ? this.describeSession(sid, req, data) : undefined;
    return {
      spec: this.specOf(owner),
      // Another writer moved the session meanwhile: describe it now, and never fail for it.
      info: () => {
        if (info !== undefined) return info;
        try {
          return this.describeSession(sid, req, data);
        } catch {
          return '';
        }
      },
    };
  }

  /**
   * After a direct-API write: when `userOf` of the session as written names another owner than the
   * session records, moves it; when another writer got in first, reads it again and decides again.
   */
  async follow(
    sid: string,
    written: LoadedSession,
    recorded: string | null,
    attempts: number,
    io: { move(spec: string, version: number, info: () => string): Promise<string>; reread(): Promise<LoadedSession | null> },
  ): Promise<void> {
    let loaded: LoadedSession | null = written;
    let owner = recorded;
    for (let attempt = 0; attempt < attempts && loaded; attempt++) {
      const data = loaded.data as unknown as SessionData;
      const wanted = this.ownerOf(sid, data);
      if (wanted === owner) return;
      const info = wanted === null ? '' : this.describeSession(sid, undefined, data);
      if ((await io.move(this.specOf(wanted), loaded.version, () => info)) !== 'conflict') return;
      loaded = await io.reread();
      owner = loaded ? (this.ownerRead(loaded) ?? null) : null;
    }
  }

  /** After clear: each destroyed session (a destroy reply [1, owner]) leaves its owner's index. */
  async removeDestroyed(sids: string[], replies: unknown[]): Promise<void> {
    const byOwner = new Map<string, string[]>();
    replies.forEach((reply, i) => {
      if (!Array.isArray(reply)) return;
      const owner = String(reply[1]);
      byOwner.set(owner, [...(byOwner.get(owner) ?? []), sids[i]]);
    });
    await Promise.all([...byOwner].map(([owner, list]) => this.forget(owner, list)));
  }

  /** The app's description of the session (the `describe` option) as JSON, '' without one. */
  describeSession(sid: string, req: IncomingMessage | undefined, data: SessionData): string {
    if (!this.describe) return '';
    let text: string | undefined;
    try {
      text = JSON.stringify(this.describe(req, data)) as string | undefined;
    } catch (cause) {
      throw new LiveSessionError('ERR_LIVE_SESSION_UNSERIALIZABLE', `session "${sid}": what the "describe" option returned cannot be stored as JSON (${(cause as Error).message}); nothing was written`, { cause });
    }
    return text ?? '';
  }

  /**
   * Does what a read or write asked: after a move, takes the session out of its previous owner's
   * index and into its new owner's, then confirms; when due, refreshes the deadline in the
   * background (a failure leaves the claim to lapse: a later read asks again).
   */
  handle(sessionKey: string, sid: string, request: IndexRequest, info: () => string): Promise<void> {
    if (request.kind === 'moved') return this.move(sessionKey, sid, request, info);
    if (!this.refreshing.has(sid)) {
      this.refreshing.add(sid);
      this.addAndConfirm(sessionKey, sid, request, '')
        .catch(() => undefined)
        .finally(() => this.refreshing.delete(sid));
    }
    return Promise.resolve();
  }

  private async move(sessionKey: string, sid: string, request: IndexRequest, info: () => string): Promise<void> {
    const leaving = request.previous === '' ? undefined : this.forget(request.previous, [sid]);
    const joining = request.user === '' ? undefined : this.addAndConfirm(sessionKey, sid, request, info());
    await Promise.all([leaving, joining]);
  }

  private async addAndConfirm(sessionKey: string, sid: string, request: IndexRequest, info: string): Promise<void> {
    // Half the remaining lifetime of slack: the session asks again after a quarter of it.
    const deadline = request.expiry + Math.ceil((request.expiry - request.now) / 2);
    const key = this.keyOf(request.user);
    await this.call('index', () => this.redis.script(SCRIPTS.index, key, ['add', request.now, sid, deadline]));
    await this.call('index', () => this.redis.script(SCRIPTS.indexConfirm, sessionKey, [request.user, deadline, request.expiry, info]));
  }

  /**
   * Takes sessions that are gone (or moved) out of a user's index, best effort: a member left
   * behind is harmless (a listing checks it against its session and prunes it, and it expires with
   * its deadline), so a logout that worked does not fail because its index could not be told.
   */
  forget(user: string, sids: string[]): Promise<void> {
    return this.remove(user, sids).catch(() => undefined);
  }

  /** Takes sessions out of a user's index. */
  async remove(user: string, sids: string[]): Promise<void> {
    if (sids.length === 0) return;
    const key = this.keyOf(user);
    await this.call('index', () => this.redis.script(SCRIPTS.index, key, ['remove', ...sids]));
  }

  /** The members of a user's index, with their deadlines. */
  private async members(user: string): Promise<[string, string][]> {
    const key = this.keyOf(user);
    const flat = flatPairs(await this.call('sessionsOf', () => this.redis.command(key, ['ZRANGE', key, '0', '-1', 'WITHSCORES'])));
    const members: [string, string][] = [];
    for (let i = 0; i < flat.length; i += 2) members.push([flat[i], flat[i + 1]]);
    return members;
  }

  /** Lists a user's live sessions, each checked against its session; prunes the stale members. */
  async sessionsOf(user: string, sessionKeyOf: (sid: string) => string): Promise<UserSession[]> {
    const members = await this.members(user);
    if (members.length === 0) return [];
    const keys = members.map(([sid]) => sessionKeyOf(sid));
    const replies = await this.call('sessionsOf', () =>
      this.redis.batch(keys.flatMap((key) => [
        { key, args: ['HMGET', key, '$u', '$c', '$t', '$n'] },
        { key, args: ['PTTL', key] },
      ])),
    );
    const now = Date.now();
    const sessions: UserSession[] = [];
    const stale: string[] = [];
    members.forEach(([sid, deadline], i) => {
      const [fieldsErr, fields] = replies[2 * i];
      const [ttlErr, pttl] = replies[2 * i + 1];
      if (fieldsErr || ttlErr) throw this.fail('sessionsOf', fieldsErr ?? ttlErr);
      const [owner, created, refresh, info] = fields as (string | null)[];
      if (owner !== user || typeof pttl !== 'number' || pttl < 0) {
        stale.push(sid, deadline);
        return;
      }
      const expiresAt = now + pttl;
      sessions.push({
        id: sid,
        createdAt: Number(created),
        expiresAt,
        lastActiveAt: refresh === null ? null : Math.min(now, expiresAt - Number(refresh)),
        info: parseInfo(info),
      });
    });
    if (stale.length > 0) {
      const key = this.keyOf(user);
      await this.call('index', () => this.redis.script(SCRIPTS.index, key, ['prune', ...stale]));
    }
    return sessions.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  }

  /**
   * Destroys every session of a user but `except` (or only those of `only`), each only if it still belongs to the user, with
   * the reason "revoked"; returns how many were destroyed. With the store's `events`: the destroy
   * script's arguments after the reason (the owner check and the tombstone), and the record of the ends.
   */
  async destroySessionsOf(
    user: string,
    { except, only }: { except?: string; only?: readonly string[] },
    sessionKeyOf: (sid: string) => string,
    events?: { destroyArgs: (key: string) => (string | number)[]; ended: (sids: string[]) => Promise<void> },
  ): Promise<number> {
    const chosen = only && new Set(only);
    const sids = (await this.members(user)).map(([sid]) => sid).filter((sid) => sid !== except && (!chosen || chosen.has(sid)));
    if (sids.length === 0) return 0;
    const keys = sids.map(sessionKeyOf);
    const replies = await this.call('destroySessionsOf', () =>
      this.redis.batch(keys.map((key) => ({ key, script: SCRIPTS.destroy, args: [this.options.publish, 'revoked', ...(events ? events.destroyArgs(key) : [`=${user}`])] }))),
    );
    const destroyed: string[] = [];
    replies.forEach(([err, reply], i) => {
      if (err) throw this.fail('destroySessionsOf', err);
      if (Array.isArray(reply)) destroyed.push(sids[i]);
    });
    await this.forget(user, destroyed);
    if (events) await events.ended(destroyed);
    return destroyed.length;
  }
}

function parseInfo(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

export function checkUser(user: unknown, what: string): string {
  if (typeof user !== 'string' || user.length === 0 || user.length > MAX_USER_LENGTH) {
    throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', `${what} must be a non-empty string of at most ${MAX_USER_LENGTH} characters, got ${typeof user === 'string' ? `a string of ${user.length}` : user === null ? 'null' : typeof user}`);
  }
  return user;
}
