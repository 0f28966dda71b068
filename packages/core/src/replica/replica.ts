/**
 * SessionReplica: the one place where this process keeps sessions' views true. Every consumer
 * (the store's read cache, socket.io, SSE, ws) follows sessions through it: the first follower of
 * a session subscribes to its channel and reads it, the last one to let go unsubscribes. One
 * subscriber connection per replica, and one replica per store, whoever follows.
 *
 * Each followed session (followed-session.ts) is kept true by its messages, read again after a
 * reconnect, and checked for expiry (expiry-watch.ts). On top of that, `current(sid)` tells the
 * store's cache whether the view is exactly what Redis holds now:
 * - the link: after the subscriber connection dropped or stalled, no view is vouched for until the
 *   connection is back, every channel subscribed again, and every view read again (an epoch
 *   counts the losses; a view carries the epoch of its last full read);
 * - ordering, on one subscriber connection (standalone, Sentinel): a write's script queues its
 *   message to every subscriber before it replies to the writer, and Redis answers one connection
 *   in order, so a PING sent after a read began is answered after the message of every write that
 *   completed before it, on any server. One PING serves every read of the same tick;
 * - on a Cluster, whose subscriptions are spread over one connection per shard: one HGET of the
 *   session's version (a view is exact when it holds the version Redis holds).
 */
import createDebug from 'debug';
import type { LoadedSession } from '../fields';
import type { DestroyReason } from '../message';
import { parseMessage } from '../message';
import type { RedisConnection } from '../redis';
import { ExpiryWatch } from './expiry-watch';
import { FollowedSession, type FollowedSessionListener, type SessionSource } from './followed-session';
import type { SessionChange } from './session-view';
import { ChannelSubscriber } from './subscriber';

const debug = createDebug('live-session:replica');

/**
 * Activity (a socket's events, keepAlive) refreshes a session at most once per this fraction of
 * its refresh interval (per session, per process): at most 10 refreshes per lifetime.
 */
const ACTIVITY_REFRESH_FRACTION = 0.1;
/** While the subscriber connection stalls, it is tried with a PING this often (ms). */
const PROBE_INTERVAL_MS = 500;

/** What a consumer hears about a session it follows. Handlers run synchronously; one that throws is reported to `error`. */
export interface SessionFollower {
  /** The session moved to a new version (`change` is what differs); `session.view` holds it. */
  changed?(session: FollowedSession, change: SessionChange): void;
  /** The session ended ('logout', 'expired', 'revoked'): reported once, then the follow is over. */
  ended?(session: FollowedSession, reason: DestroyReason): void;
  /** Something failed in the background (a read after a gap, an expiry check). */
  error?(err: Error): void;
}

/** 'ok': followed and read; 'missing': Redis has no such session (nothing to follow); 'failed': Redis could not be read (a later reload corrects it). */
export type FollowOutcome = 'ok' | 'missing' | 'failed';

/** One consumer's follow of one session: release it when done (idempotent). */
export interface Follow {
  readonly session: FollowedSession;
  /** Settles once subscribed and read. */
  readonly ready: Promise<FollowOutcome>;
  release(): void;
}

/** A channel of the library's own (not a session's) carried by the replica's subscriber connection. */
export interface ChannelListener {
  /** A message on the channel. */
  message(raw: string): void;
  /** The connection came back (or a Cluster's subscriptions moved): messages may have been lost meanwhile. */
  resubscribed?(): void;
}

/** What the replica needs from the store. */
export interface ReplicaHost {
  readonly redis: RedisConnection;
  readonly publish: 'publish' | 'spublish';
  keyOf(sid: string): string;
  /** The session as Redis holds it, without refreshing it; null when gone. */
  read(sid: string): Promise<LoadedSession | null>;
  /** Many sessions at once, each as `read` (one round trip). */
  readMany(sids: readonly string[]): Promise<Map<string, LoadedSession | null>>;
  /** When each session expires (Infinity without TTL), null when gone; no refresh. */
  expiries(sids: readonly string[]): Promise<Map<string, number | null>>;
  /** The version Redis holds for a session, null when it is gone (one HGET). */
  version(sid: string): Promise<number | null>;
  /** Refreshes a session's lifetime as a read would (socket activity); null when gone. */
  touch(sid: string): Promise<{ expiresAt: number; refreshInterval: number | null } | null>;
  /** Runs a Redis call under the store's timeout (ERR_LIVE_SESSION_TIMEOUT). */
  call<T>(what: string, operation: () => Promise<T>): Promise<T>;
}

interface Entry {
  readonly session: FollowedSession;
  readonly ready: Promise<FollowOutcome>;
  readonly follows: Set<Following>;
  /** The link epoch of the last full read of the session (-1: none that counts). */
  epoch: number;
  refresh?: Refresh;
}

interface Refresh {
  lastAt: number;
  /** undefined until the first answer; null when the cookie fixes the expiry. */
  interval: number | null | undefined;
  inFlight: boolean;
}

interface Barrier {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class SessionReplica {
  private readonly entries = new Map<string, Entry>();
  /** Other channels carried by the same connection (listen()). */
  private readonly listeners = new Map<string, Set<ChannelListener>>();
  private subscriber: ChannelSubscriber | undefined;
  private readonly expiry: ExpiryWatch;
  private readonly listener: FollowedSessionListener;
  /** What every followed session reads Redis through (one object for all: it costs heap per session). */
  private readonly source: SessionSource;
  private consumers = 0;
  /** Counts the losses of the subscriber connection: a view read before the last one is not vouched for. */
  private losses = 0;
  /** The connection is up, every channel subscribed and every view read again since the last loss. */
  private linked = true;
  /** The PING that the reads of this tick wait for, sent at the end of the tick. */
  private nextBarrier: Barrier | undefined;
  private probing: NodeJS.Timeout | undefined;

  constructor(private readonly host: ReplicaHost) {
    this.source = { read: (sid) => host.read(sid), expiries: (sids) => host.expiries(sids) };
    this.expiry = new ExpiryWatch({
      check: (sids) => host.expiries(sids),
      expired: (session) => void session.expire().catch((err: unknown) => this.report(session, err)),
      report: (err) => this.reportAll(err),
    });
    this.listener = {
      changed: (session, change) => this.each(session, (follower) => follower.changed?.(session, change)),
      ended: (session, reason) => {
        const entry = this.entries.get(session.key);
        if (entry?.session === session) this.forget(entry); // a session that ended is never served, nor followed
        this.each(session, (follower) => follower.ended?.(session, reason), entry);
      },
      expiryKnown: (session) => {
        if (this.entries.get(session.key)?.session === session) this.expiry.watch(session);
      },
    };
  }

  /**
   * A consumer starts using the replica (the store's cache, a socket.io server, a stream handler);
   * the returned function ends that use. The subscriber connection closes when the last consumer
   * has gone, and opens again with the next follow.
   */
  attach(): () => void {
    this.consumers++;
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      if (--this.consumers === 0) void this.close();
    };
  }

  /** Follows a session: subscribe, then read (a change published in between is in both, told apart by version). */
  follow(sid: string, follower: SessionFollower): Follow {
    const key = this.host.keyOf(sid);
    const entry = this.entries.get(key) ?? this.start(sid, key);
    const follow = new Following(entry, follower, this);
    entry.follows.add(follow);
    return follow;
  }

  /**
   * Subscribes to one of the library's own channels on the replica's connection (one subscriber
   * connection per process, whoever listens): `ready` resolves once Redis confirmed it. The caller
   * keeps the replica open with attach() while it listens.
   */
  listen(channel: string, listener: ChannelListener): { ready: Promise<void>; release(): void } {
    const subscriber = this.open();
    let listeners = this.listeners.get(channel);
    if (!listeners) this.listeners.set(channel, (listeners = new Set()));
    listeners.add(listener);
    let released = false;
    return {
      ready: subscriber.subscribe(channel),
      release: () => {
        if (released) return;
        released = true;
        listeners.delete(listener);
        if (listeners.size > 0 || this.listeners.get(channel) !== listeners) return;
        this.listeners.delete(channel);
        void this.subscriber?.unsubscribe(channel);
      },
    };
  }

  /** @internal Following.release(): the last follow of a session to let go unsubscribes. */
  releaseFollow(entry: Entry, follow: Following): void {
    entry.follows.delete(follow);
    if (entry.follows.size === 0 && this.entries.get(entry.session.key) === entry) this.forget(entry);
  }

  /** The followed session of `sid`, if any. */
  get(sid: string): FollowedSession | undefined {
    return this.entries.get(this.host.keyOf(sid))?.session;
  }

  /**
   * The followed session of `sid` as of now, once every write that completed before this call (on
   * any server) is applied to it; undefined when the replica cannot vouch for it (not followed, not
   * read yet, ended, or the link to Redis in doubt: read Redis instead). Rejects with the store's
   * timeout error when the subscriber connection does not answer in time (a stalled link).
   */
  current(sid: string): Promise<FollowedSession | undefined> {
    return this.currentOfEntry(this.entries.get(this.host.keyOf(sid)));
  }

  /** current() of a session this caller follows (no id to check and look up: the cache's hot path; no async frame). */
  currentOf(session: FollowedSession): Promise<FollowedSession | undefined> {
    return this.currentOfEntry(this.entries.get(session.key));
  }

  private currentOfEntry(entry: Entry | undefined): Promise<FollowedSession | undefined> {
    if (!entry || !this.vouches(entry)) return NOT_VOUCHED;
    const checked = (): FollowedSession | undefined | Promise<FollowedSession | undefined> => {
      if (!entry.session.idle) return entry.session.settled().then(() => this.vouched(entry));
      return this.vouched(entry);
    };
    if (this.subscriber!.canPing) {
      return this.barrier().then(checked, (err: unknown) => {
        // A stall fails the read (what it would answer may be old); a connection that dropped
        // (the link is in doubt from now on) leaves it to Redis.
        if (isTimeout(err)) throw err;
        return undefined;
      });
    }
    return this.host.version(entry.session.sid).then((version) => {
      if (version === entry.session.version) return checked();
      return entry.session.settled().then(() => undefined); // a message may be on its way; the next read tries again
    });
  }

  /** The entry's session, if it is still the one followed and vouched for. */
  private vouched(entry: Entry): FollowedSession | undefined {
    return this.entries.get(entry.session.key) === entry && this.vouches(entry) ? entry.session : undefined;
  }


  /** A write through this process returned the session: the followers get it now (the message that follows is then a replay). */
  async adopt(sid: string, loaded: LoadedSession, startedAt?: number): Promise<void> {
    const entry = this.entries.get(this.host.keyOf(sid));
    if (entry) await entry.session.adopt(loaded, startedAt).catch((err: unknown) => this.report(entry.session, err));
  }

  /** A write or a refresh through this process found no session: it ended without a message. */
  async gone(sid: string): Promise<void> {
    const entry = this.entries.get(this.host.keyOf(sid));
    if (entry) await entry.session.expire().catch((err: unknown) => this.report(entry.session, err));
  }

  /** A refresh through this process moved the session's expiry (Redis confirmed it at `confirmedAt`). */
  expiryMoved(sid: string, expiresAt: number, confirmedAt: number): void {
    this.entries.get(this.host.keyOf(sid))?.session.expiryMoved(expiresAt, confirmedAt);
  }

  /**
   * A follower of the session did something (a socket's event): count it as use of the session
   * (its lifetime moves as an HTTP request would move it), at most once per
   * ACTIVITY_REFRESH_FRACTION of the interval. A session whose cookie fixes its expiry is never refreshed.
   */
  activity(sid: string): void {
    const entry = this.entries.get(this.host.keyOf(sid));
    if (!entry || entry.session.ended) return;
    const { session } = entry;
    const refresh = (entry.refresh ??= { lastAt: 0, interval: undefined, inFlight: false });
    if (refresh.inFlight || refresh.interval === null) return;
    const now = Date.now();
    if (refresh.interval !== undefined && now - refresh.lastAt < refresh.interval * ACTIVITY_REFRESH_FRACTION) return;
    refresh.inFlight = true;
    refresh.lastAt = now;
    this.host
      .touch(session.sid)
      .then(
        (result) => {
          if (!result) return session.expire();
          refresh.interval = result.refreshInterval;
          session.expiryMoved(result.expiresAt, now);
        },
        (err: unknown) => this.report(session, err),
      )
      .finally(() => (refresh.inFlight = false));
  }

  /** The channels this process is subscribed to. */
  get channels(): string[] {
    return this.subscriber?.channels ?? [];
  }

  /** How many sessions are followed. */
  get size(): number {
    return this.entries.size;
  }

  /** Lets go of every session and closes the subscriber connection (it opens again with the next follow). */
  async close(): Promise<void> {
    this.expiry.clear();
    this.entries.clear();
    this.listeners.clear();
    clearTimeout(this.probing);
    this.probing = undefined;
    this.nextBarrier?.reject(new Error('live-session: the replica closed'));
    this.nextBarrier = undefined;
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    this.linked = true;
    this.losses++;
    await subscriber?.close();
  }

  // ---- Internals

  private start(sid: string, key: string): Entry {
    const subscriber = this.open();
    const session = new FollowedSession(sid, key, this.source, this.listener);
    let losses = -1;
    const entry: Entry = {
      session,
      follows: new Set(),
      epoch: -1,
      ready: subscriber.subscribe(key).then(() => {
        losses = this.losses; // a loss after this point leaves the read unvouched until relinked
        return session.load().then(
          (outcome) => {
            if (outcome === 'missing') {
              if (this.entries.get(key) === entry) this.forget(entry);
            } else if (entry.epoch < losses) {
              entry.epoch = losses;
            }
            return outcome;
          },
          (err: unknown) => {
            debug('reading %s failed: %s', key, (err as Error).message);
            return 'failed' as const;
          },
        );
      }),
    };
    this.entries.set(key, entry);
    return entry;
  }

  private open(): ChannelSubscriber {
    return (this.subscriber ??= new ChannelSubscriber(this.host.redis, this.host.publish, {
      message: (channel, raw) => this.onMessage(channel, raw),
      lost: () => this.lose('the subscriber connection dropped'),
      resubscribed: (channels) => void this.relink(channels),
    }));
  }

  /** No longer follows the session: unsubscribes, stops watching its expiry. */
  private forget(entry: Entry): void {
    this.entries.delete(entry.session.key);
    this.expiry.unwatch(entry.session);
    void this.subscriber?.unsubscribe(entry.session.key);
  }

  private vouches(entry: Entry): boolean {
    return this.linked && entry.epoch === this.losses && entry.session.version >= 0 && !entry.session.ended;
  }

  /** The PING that orders this read after every completed write (see the top of this file). */
  private barrier(): Promise<void> {
    if (this.nextBarrier) return this.nextBarrier.promise;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    const barrier: Barrier = { promise, resolve, reject };
    this.nextBarrier = barrier;
    process.nextTick(() => {
      if (this.nextBarrier === barrier) this.nextBarrier = undefined;
      const subscriber = this.subscriber;
      if (!subscriber) return barrier.reject(new Error('live-session: the replica closed'));
      const losses = this.losses;
      this.host.call('barrier', () => subscriber.ping()).then(barrier.resolve, (err: unknown) => {
        barrier.reject(err);
        // No answer (in time): the link may hold back or have lost messages. Nothing is served
        // from memory until it answers again and every view is read again.
        if (losses === this.losses) this.lose(`the subscriber connection did not answer a PING: ${(err as Error).message}`);
      });
    });
    return promise;
  }

  /** The link is in doubt: nothing is vouched for until it is back and every view is read again. */
  private lose(why: string): void {
    this.losses++;
    if (!this.linked) return;
    this.linked = false;
    debug('link in doubt: %s', why);
    this.probe();
  }

  /**
   * While in doubt, PING the connection: once it answers (a stall that passed) or reconnects
   * (`resubscribed`), every view is read again.
   */
  private probe(): void {
    clearTimeout(this.probing);
    const subscriber = this.subscriber;
    if (!subscriber?.canPing || this.linked) return;
    this.probing = setTimeout(() => {
      const losses = this.losses;
      this.host.call('barrier', () => subscriber.ping()).then(
        () => {
          if (losses === this.losses && !this.linked && this.subscriber === subscriber) void this.relink(subscriber.channels);
        },
        () => undefined,
      );
      this.probe();
    }, PROBE_INTERVAL_MS).unref();
  }

  private onMessage(channel: string, raw: string): void {
    const entry = this.entries.get(channel);
    if (!entry) {
      for (const listener of this.listeners.get(channel) ?? []) {
        try {
          listener.message(raw);
        } catch (err) {
          debug('a listener of %s threw: %s', channel, asError(err).message);
        }
      }
      return;
    }
    const message = parseMessage(raw);
    if (!message) {
      debug('dropped a malformed message on %s', channel);
      return;
    }
    try {
      entry.session.receive(message, raw)?.catch((err: unknown) => this.report(entry.session, err));
    } catch (err) {
      this.report(entry.session, err); // applied at once, so a failure surfaces here: never into the subscriber
    }
  }

  /**
   * The connection is back with every channel subscribed (messages may have been lost): read every
   * followed session in one round trip; the link is vouched for again once they all are read.
   */
  private async relink(channels: string[]): Promise<void> {
    const losses = this.losses;
    clearTimeout(this.probing);
    for (const listeners of this.listeners.values()) {
      for (const listener of listeners) {
        try {
          listener.resubscribed?.();
        } catch (err) {
          debug('a listener threw: %s', asError(err).message);
        }
      }
    }
    // Also those whose first read is in flight: it may have started before the loss.
    const reading = [...this.entries.values()].filter((entry) => !entry.session.ended);
    debug('relinking: reading %d sessions (%d channels)', reading.length, channels.length);
    try {
      const startedAt = Date.now();
      const loaded = reading.length > 0 ? await this.host.readMany(reading.map((entry) => entry.session.sid)) : new Map<string, LoadedSession | null>();
      await Promise.all(
        reading.map(async (entry) => {
          try {
            await entry.session.reload(loaded.get(entry.session.sid) ?? null, startedAt);
            entry.epoch = losses;
          } catch (err) {
            this.report(entry.session, err);
          }
        }),
      );
    } catch (err) {
      this.reportAll(err);
      if (losses === this.losses) this.probe(); // try again with the next probe (or reconnect)
      return;
    }
    if (losses === this.losses) this.linked = true;
  }

  /** Calls `fn` for each follower of `session` (of `entry`, once it is out of the map); a follower that throws is reported. */
  private each(session: FollowedSession, fn: (follower: SessionFollower) => void, entry = this.entries.get(session.key)): void {
    if (!entry || entry.session !== session) return;
    for (const follow of [...entry.follows]) {
      const { follower } = follow;
      try {
        fn(follower);
      } catch (err) {
        follower.error?.(asError(err));
      }
    }
  }

  private report(session: FollowedSession, err: unknown): void {
    const error = asError(err);
    let told = false;
    this.each(session, (follower) => {
      if (follower.error) told = true;
      follower.error?.(error);
    });
    if (!told) debug('error on %s: %s', session.key, error.stack ?? error.message);
  }

  private reportAll(err: unknown): void {
    for (const entry of this.entries.values()) this.report(entry.session, err);
    if (this.entries.size === 0) debug('error: %s', asError(err).message);
  }
}

const NOT_VOUCHED: Promise<undefined> = Promise.resolve(undefined);

/** One consumer's follow (a class: no closure per follow, which cost heap per followed session). */
class Following implements Follow {
  private released = false;

  constructor(
    private readonly entry: Entry,
    /** What the consumer hears (only the replica calls it). */
    readonly follower: SessionFollower,
    private readonly replica: SessionReplica,
  ) {}

  get session(): FollowedSession {
    return this.entry.session;
  }

  get ready(): Promise<FollowOutcome> {
    return this.entry.ready;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.replica.releaseFollow(this.entry, this);
  }
}

function isTimeout(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'ERR_LIVE_SESSION_TIMEOUT';
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
