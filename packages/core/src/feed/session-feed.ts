/**
 * SessionFeed: what a live transport other than socket.io (Server-Sent Events, a plain WebSocket)
 * does for each of its connections, kept apart from how the bytes travel. Each connection follows
 * its session through the store's replica (one subscriber connection per process; the first
 * follow of a session subscribes, the last release unsubscribes), and is told only what it has not
 * seen: the app's exposed projection when it changed, a version that moved without a change the
 * client can see, and the end of the session with its reason, once.
 *
 * The projection is computed, turned into JSON and encoded by the transport once per session and
 * version, whatever the number of connections. A connection that cannot take more yet (a slow
 * client) refuses an update; the next `sync()` then sends the newest projection instead of every
 * one it missed: a view, unlike a log, only needs its latest state.
 */
import type { LiveSessionStore, SessionState } from '../store';
import { LiveSessionError } from '../errors';
import type { DestroyReason } from '../message';
import type { Follow, FollowOutcome, FollowedSession, SessionFollower, SessionReplica, SessionView } from '../replica';

/** What a transport does with one connection's news. */
export interface FeedSink<E> {
  /** The exposed projection changed (`encoded`: the transport's own encoding, shared by every connection of the session). False: not sent (backpressure); `sync()` later. */
  update(encoded: E, version: number): boolean;
  /** The session moved to `version` without a change the client can see (or the app exposes nothing). False as `update`. */
  moved(version: number): boolean;
  /** The session ended; nothing follows. */
  end(reason: DestroyReason): void;
}

export interface SessionFeedOptions<E> {
  store: LiveSessionStore;
  /** What a client may see of its session (undefined: nothing, only versions and the end). */
  expose?: ((session: SessionView) => unknown) | undefined;
  /** Encodes a projection's JSON for the wire, once per session and version. */
  encode(json: string, version: number, session: FollowedSession): E;
  /** A failure in the background (an `expose` that threw, a read after a gap). */
  report(err: Error): void;
}

/** A projection of one session at one version. */
interface Projection<E> {
  version: number;
  /** The exposed projection as JSON; undefined when the app exposes nothing. */
  json: string | undefined;
  encoded: E | undefined;
}

export class SessionFeed<E> {
  readonly store: LiveSessionStore;
  private readonly replica: SessionReplica;
  private readonly detach: () => void;
  private readonly projections = new WeakMap<FollowedSession, Projection<E>>();
  private readonly connections = new Set<FeedConnection<E>>();

  constructor(private readonly options: SessionFeedOptions<E>) {
    this.store = options.store;
    this.replica = options.store.replica;
    this.detach = this.replica.attach();
  }

  /**
   * Follows the session `sid` for one connection. Undefined when the store refuses the id (too
   * long): no session. Nothing reaches `sink` before `start()`.
   */
  open(sid: string, sink: FeedSink<E>): FeedConnection<E> | undefined {
    let connection: FeedConnection<E>;
    try {
      connection = new FeedConnection(this, this.replica, sid, sink);
    } catch (err) {
      if (err instanceof LiveSessionError && err.code === 'ERR_LIVE_SESSION_BAD_ID') return undefined;
      throw err;
    }
    this.connections.add(connection);
    return connection;
  }

  /** How many connections are open. */
  get size(): number {
    return this.connections.size;
  }

  /** The channels this process is subscribed to (whoever follows: this feed, other transports, the store's cache). */
  get channels(): string[] {
    return this.replica.channels;
  }

  /** Lets go of every connection's session (the transports close the connections) and of the replica. */
  close(): void {
    for (const connection of [...this.connections]) connection.release();
    this.detach();
  }

  /** @internal */
  forget(connection: FeedConnection<E>): void {
    this.connections.delete(connection);
  }

  /** @internal The session's projection at its current version, computed once for every connection. */
  projection(session: FollowedSession): Projection<E> {
    const known = this.projections.get(session);
    if (known?.version === session.version) return known;
    const { expose } = this.options;
    let json: string | undefined;
    if (expose) {
      let exposed: unknown = null;
      try {
        exposed = expose(session.view);
      } catch (err) {
        this.report(err);
      }
      json = JSON.stringify(exposed ?? null);
    }
    const projection: Projection<E> = { version: session.version, json, encoded: undefined };
    this.projections.set(session, projection);
    return projection;
  }

  /** @internal */
  encoded(projection: Projection<E>, session: FollowedSession): E {
    return (projection.encoded ??= this.options.encode(projection.json!, projection.version, session));
  }

  /** @internal */
  report(err: unknown): void {
    this.options.report(err instanceof Error ? err : new Error(String(err)));
  }
}

/** One connection's follow of its session (it is the follower itself: no closure per connection). */
export class FeedConnection<E> implements SessionFollower {
  readonly sid: string;
  readonly ready: Promise<FollowOutcome>;
  private readonly follow: Follow;
  /** The last version the client was told of, and the projection it holds (undefined: unknown). */
  private seenVersion = -1;
  private seenJson: string | undefined;
  private started = false;
  private done = false;

  constructor(
    private readonly feed: SessionFeed<E>,
    private readonly replica: SessionReplica,
    sid: string,
    private readonly sink: FeedSink<E>,
  ) {
    this.sid = sid;
    this.follow = replica.follow(sid, this);
    this.ready = this.follow.ready;
  }

  /** The followed session (its `view` and `version`; `ended` once it has). */
  get session(): FollowedSession {
    return this.follow.session;
  }

  /** Whether the session ended or the connection was released. */
  get closed(): boolean {
    return this.done;
  }

  /**
   * Starts telling the sink, once `ready` is 'ok': first what the client lacks. `seenVersion`: the
   * version a resuming client already has (its projection), so that it gets nothing if that is
   * still the current one.
   */
  start(seenVersion?: number): void {
    if (this.started || this.done) return;
    this.started = true;
    const { session } = this;
    if (session.ended) return this.ended(session, session.endedBy ?? 'expired');
    if (seenVersion !== undefined && seenVersion === session.version) {
      // It holds this version's projection already (the same `expose`, on any server).
      this.seenVersion = seenVersion;
      this.seenJson = this.feed.projection(session).json;
    }
    this.sync();
  }

  /** Tells the sink what the client has not seen yet (after `start`, and when the transport can send again). */
  sync(): void {
    const { session } = this;
    if (!this.started || this.done || session.ended || session.version < 0 || session.version === this.seenVersion) return;
    const projection = this.feed.projection(session);
    if (projection.json !== undefined && projection.json !== this.seenJson) {
      if (!this.sink.update(this.feed.encoded(projection, session), session.version)) return;
      this.seenJson = projection.json;
    } else if (!this.sink.moved(session.version)) {
      return;
    }
    this.seenVersion = session.version;
  }

  /** The client did something (a message): count it as use of the session (the replica refreshes its lifetime, at most once per tenth of it). */
  activity(): void {
    if (!this.done) this.replica.activity(this.sid);
  }

  /**
   * Atomic read-modify-write of one key of this connection's session (as the store's
   * updateSession). Rejects with ERR_LIVE_SESSION_NOT_FOUND, writing nothing, once the session has
   * ended; when that is how the store found out, call `gone()` after answering the client.
   */
  async update<T>(key: string, fn: (current: T | undefined) => T | undefined | Promise<T | undefined>): Promise<SessionState> {
    if (this.done || this.session.ended) throw notFound(this.sid);
    return this.feed.store.updateSessionState(this.sid, key, fn);
  }

  /** A write found the session gone without a message: it ended (as expired) for every follower here. */
  gone(): Promise<void> {
    return this.replica.gone(this.sid);
  }

  /** The connection is gone: lets go of the session (the last follow of it unsubscribes). Idempotent. */
  release(): void {
    if (this.done) return;
    this.done = true;
    this.follow.release();
    this.feed.forget(this);
  }

  // ---- SessionFollower (called by the replica)

  changed(): void {
    this.sync();
  }

  ended(_session: FollowedSession, reason: DestroyReason): void {
    if (this.done || !this.started) return; // before start: start() finds the session ended
    this.release();
    this.sink.end(reason);
  }

  error(err: Error): void {
    this.feed.report(err);
  }
}

function notFound(sid: string): LiveSessionError {
  return new LiveSessionError('ERR_LIVE_SESSION_NOT_FOUND', `session "${sid}" does not exist (destroyed, expired, or never saved)`);
}
