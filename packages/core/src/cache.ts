/**
 * The store's read cache (the `cache` option): reads of sessions this process follows are served
 * from the replica (replica/replica.ts), exact on every server, without a Redis read.
 *
 * Which sessions: up to `maxSessions`, each followed (subscribed) while it is in the cache. A
 * session read for the first time is taken in while there is room; once the cache is full, a
 * session is taken in only if it was read twice more recently than the least recently read cached
 * session was last read (then that one is let go). A steady working set larger than the cache so
 * never churns: it keeps the sessions it has, and the rest are read from Redis as without a cache.
 * A session not read for `idleAfter` ms is let go.
 *
 * What a served read still asks of Redis: nothing, while Redis confirmed the session exists less
 * than CONFIRM_MS ago (a read, a write, a refresh through this process); after that one command,
 * which refreshes the lifetime as a read does (PEXPIRE by the session's refresh interval; PTTL for
 * a session whose cookie fixes its expiry; the touch script with a user index). So a session
 * deleted outside the library (DEL, FLUSHALL, eviction: no message says so) is served at most
 * CONFIRM_MS after it went, and a session whose TTL may have passed is never served.
 */
import type { LoadedSession } from './fields';
import type { Follow, FollowedSession, SessionFollower, SessionReplica } from './replica';

/**
 * How long Redis's word that a session exists is taken (ms): a session deleted outside the library
 * is served at most this long after. Under a second, as documented.
 */
export const CONFIRM_MS = 900;
/** A session this close to its known expiry (ms) is read from Redis, which knows whether another server moved it. */
const EXPIRY_MARGIN_MS = 50;

const MISS: Promise<undefined> = Promise.resolve(undefined);

/** The session as a read returns it; the cookie as this request's touch leaves it: the refresh interval from now, or the fixed expiry. */
function snapshotOf(session: FollowedSession): LoadedSession {
  const interval = session.refreshInterval;
  const fixed = session.expiresAt === Number.POSITIVE_INFINITY ? null : session.expiresAt;
  return session.snapshot(interval !== null ? Date.now() + interval : fixed);
}

export interface CacheOptions {
  maxSessions: number;
  idleAfter: number;
  /** How far a session's expiry may lag behind a read before the read refreshes it (the store's touchGrace). */
  touchGrace: number;
}

/** What the cache asks of the store. */
export interface CacheHost {
  /**
   * Confirms that a session still exists and refreshes its lifetime as a read does: its new expiry
   * (Infinity without TTL), or null when it is gone.
   */
  confirm(session: FollowedSession): Promise<number | null>;
}

interface Cached {
  readonly follow: Follow;
  lastReadAt: number;
  /** Read since the victim search last looked at it. */
  referenced: boolean;
}

export class ReadCache {
  /** The cached sessions, by id, roughly least recently read first (a second chance moves them back). */
  private readonly cached = new Map<string, Cached>();
  /** Sessions read from Redis while the cache was full, and when: a second read may take them in. */
  private readonly missed = new Map<string, number>();
  private readonly sweeper: NodeJS.Timeout;
  /** One follower for every cached session: an ended session leaves the cache (its next read misses, and reads Redis). */
  private readonly follower: SessionFollower = {
    ended: (session) => {
      const entry = this.cached.get(session.sid);
      if (entry?.follow.session === session) this.drop(session.sid, entry);
    },
  };

  constructor(
    private readonly replica: SessionReplica,
    private readonly options: CacheOptions,
    private readonly host: CacheHost,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, options.idleAfter / 4)).unref();
  }

  /**
   * The session from memory (null: it is gone), or undefined when Redis must be read. Taking a
   * session in reads it once, through the replica, and serves that read. `refresh`: a read that
   * refreshes the lifetime (the direct API's): when the expiry lags by more than touchGrace, the
   * command that confirms the session is due at once.
   */
  get(sid: string, refresh: boolean): Promise<LoadedSession | null | undefined> {
    const now = Date.now();
    const entry = this.cached.get(sid);
    if (!entry) return this.admit(sid, now) ? this.first(sid, refresh) : MISS;
    entry.lastReadAt = now;
    entry.referenced = true;
    return this.replica.currentOf(entry.follow.session).then((session) => session && this.serve(session, refresh));
  }

  /** get(), only if the cache holds the session: never takes one in. */
  peek(sid: string, refresh: boolean): Promise<LoadedSession | null | undefined> {
    const entry = this.cached.get(sid);
    if (!entry) return MISS;
    return this.replica.currentOf(entry.follow.session).then((session) => session && this.serve(session, refresh));
  }

  /** How many sessions the cache holds. */
  get size(): number {
    return this.cached.size;
  }

  close(): void {
    clearInterval(this.sweeper);
    for (const entry of this.cached.values()) entry.follow.release();
    this.cached.clear();
    this.missed.clear();
  }

  /** The first read of a session taken in: the replica's read after subscribing, which started after this read did. */
  private async first(sid: string, refresh: boolean): Promise<LoadedSession | null | undefined> {
    const entry = this.cached.get(sid);
    if (!entry) return undefined;
    const outcome = await entry.follow.ready;
    if (outcome === 'missing') return null;
    if (outcome === 'failed') return undefined; // let the store's read report what fails
    const session = entry.follow.session;
    return session.ended ? undefined : this.serve(session, refresh);
  }

  /** The session as a read returns it, once Redis was asked whether it still exists if that is due. (No async frame: the hot path.) */
  private serve(session: FollowedSession, refresh: boolean): LoadedSession | null | undefined | Promise<LoadedSession | null | undefined> {
    const startedAt = Date.now();
    const { expiresAt, refreshInterval } = session;
    if (expiresAt === null || startedAt >= expiresAt - EXPIRY_MARGIN_MS) return undefined;
    const lags = refresh && refreshInterval !== null && startedAt + refreshInterval - expiresAt > this.options.touchGrace;
    if (!lags && startedAt - session.confirmedAt <= CONFIRM_MS) return snapshotOf(session);
    return this.host.confirm(session).then((confirmed) => {
      if (confirmed === null) return null; // the store told the replica it is gone
      session.expiryMoved(confirmed, startedAt);
      return session.ended ? undefined : snapshotOf(session);
    });
  }

  /** Whether to take a session that missed into the cache; when so, it is followed from now on. */
  private admit(sid: string, now: number): boolean {
    if (this.cached.size >= this.options.maxSessions) {
      const previous = this.missed.get(sid);
      const victim = this.victim();
      // Read twice, the second time more recently than the victim was last read: it takes its place.
      if (previous === undefined || victim === undefined || now - previous >= now - victim[1].lastReadAt) {
        this.remember(sid, now);
        return false;
      }
      this.drop(victim[0], victim[1]);
    }
    this.missed.delete(sid);
    this.cached.set(sid, { follow: this.replica.follow(sid, this.follower), lastReadAt: now, referenced: false });
    return true;
  }

  /**
   * About the least recently read cached session (a second chance, as CLOCK: one read since it
   * was last looked at sends it to the back), without moving every entry on every read.
   */
  private victim(): [string, Cached] | undefined {
    for (let tries = 0; tries < 16; tries++) {
      const first = this.cached.entries().next();
      if (first.done) return undefined;
      const [sid, entry] = first.value;
      if (!entry.referenced) return first.value;
      entry.referenced = false;
      this.cached.delete(sid);
      this.cached.set(sid, entry);
    }
    return this.cached.entries().next().value;
  }

  private remember(sid: string, now: number): void {
    this.missed.delete(sid);
    this.missed.set(sid, now);
    if (this.missed.size > this.options.maxSessions) this.missed.delete(this.missed.keys().next().value!);
  }

  private drop(sid: string, entry: Cached): void {
    this.cached.delete(sid);
    entry.follow.release();
  }

  /** Lets go of the sessions nobody read for `idleAfter` ms. */
  private sweep(): void {
    const before = Date.now() - this.options.idleAfter;
    for (const [sid, entry] of this.cached) if (entry.lastReadAt < before) this.drop(sid, entry);
  }
}
