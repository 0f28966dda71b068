/**
 * LiveSession: the socket.io glue. Joins each socket to the room of its express-session, follows
 * each session with local sockets through the store's replica (@live-session/core keeps its view
 * true: one subscriber connection per process, whoever follows), gives the sockets and the app's
 * handlers every change and the end of the session with its reason, and sends the browser only
 * what the app chose to expose.
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import {
  type DestroyReason,
  type Follow,
  type FollowedSession,
  LiveSessionError,
  type LiveSessionStore,
  type SessionChange,
  type SessionFollower,
  type SessionReplica,
  type SessionValue,
  type SessionView,
  type UserSession,
  viewOf,
} from '@live-session/core';
import type { Namespace, Server, Socket } from 'socket.io';

const debug = createDebug('live-session:socket.io');

/** Events sent to the browser. */
export const CLIENT_EVENTS = {
  /** Payload: `expose(session)`; sent when the socket joins and whenever the exposed projection changes. */
  update: 'live_session:update',
  /** Payload `{ reason }`: the session ended ('logout', 'expired' or 'revoked'). */
  destroy: 'live_session:destroy',
} as const;

export interface LiveSessionOptions {
  /** The store the sessions live in. */
  store: LiveSessionStore;
  /**
   * What the browser may see of a session. Called with the session's view (no cookie) after each
   * change; the result is sent as `live_session:update` when it differs from the last one sent.
   * @default undefined: the browser receives no session data
   */
  expose?: (session: SessionView) => unknown;
  /**
   * Disconnect the sockets of a session once it has ended (after the destroy event).
   * @default false
   */
  disconnectOnDestroy?: boolean;
  /**
   * Count a client's events as use of its session, as an HTTP request is: the session's lifetime
   * is refreshed (at most once per tenth of its refresh interval, per session and server, not per
   * event). A session whose cookie fixes its expiry (`expires` without `maxAge`) is never moved.
   * Only the lifetime in Redis moves: the browser's cookie keeps the expiry its last HTTP response
   * gave it (see the README).
   * @default false
   */
  keepAlive?: boolean;
}

/** What `socket.data` holds for a socket with a session (type your Server's SocketData with it). */
export interface LiveSocketData {
  /** The socket's view of its session; null once the session ended. */
  session: SessionView | null;
}

/** Anything that carries an express-session id: `req.session`, `socket.request.session`, or `{ id }`. */
export interface SessionLike {
  id: string;
}

export type SessionTarget = Socket | SessionLike;

export interface LiveSessionEvents {
  /** A session changed: called once per local socket of that session, with the full new view. */
  update: [socket: Socket, session: SessionView, change: SessionChange];
  /** A session ended: called once per local socket of that session, with why. */
  destroy: [socket: Socket, reason: DestroyReason];
  /** Something failed in the background (a reload after a gap, a handler that threw). */
  error: [error: Error];
}

/** What `live.handler` acknowledges to the client. */
export type HandlerResult = { ok: true } | { ok: false; error: { code: string; message: string } };
type HandlerAck = (result: HandlerResult) => void;

type SessionUpdater<T> = (current: T | undefined) => T | undefined | Promise<T | undefined>;

export class LiveSession extends EventEmitter<LiveSessionEvents> {
  readonly store: LiveSessionStore;
  private readonly nsp: Namespace;
  private readonly expose: ((session: SessionView) => unknown) | undefined;
  private readonly disconnectOnDestroy: boolean;
  private readonly keepAlive: boolean;
  private readonly replica: SessionReplica;
  /** Ends this server's use of the replica (close()). */
  private readonly detach: () => void;
  /** The follow of each room's session: a room is created with its first socket, deleted with its last. */
  private readonly follows = new Map<string, Follow>();
  private readonly follower: SessionFollower = {
    changed: (session, change) => this.deliver(session, change),
    ended: (session, reason) => this.ended(session, reason),
    error: (err) => this.report(err),
  };
  /** The last payload sent to the browsers of a session, as JSON, to send only real changes. */
  private readonly exposed = new WeakMap<FollowedSession, string | undefined>();
  /** The session id of each subscribed socket, as express-session gave it. */
  private readonly sessionIds = new WeakMap<Socket, string>();
  /** Sockets whose events already count as activity (keepAlive). */
  private readonly watchedSockets = new WeakSet<Socket>();
  private readonly onCreateRoom = (room: string) => this.roomCreated(room);
  private readonly onDeleteRoom = (room: string) => this.roomDeleted(room);

  constructor(io: Server | Namespace, options: LiveSessionOptions) {
    super();
    if (!options?.store || typeof options.store.keyOf !== 'function') {
      throw new TypeError('createLiveSession needs { store }: a LiveSessionStore from @live-session/core');
    }
    this.store = options.store;
    this.nsp = 'of' in io ? io.of('/') : io;
    this.expose = options.expose;
    this.disconnectOnDestroy = options.disconnectOnDestroy ?? false;
    this.keepAlive = options.keepAlive ?? false;
    this.replica = this.store.replica;
    this.detach = this.replica.attach();
    // Subscriptions follow the room lifecycle: the first local socket of a session creates its room.
    this.nsp.adapter.on('create-room', this.onCreateRoom);
    this.nsp.adapter.on('delete-room', this.onDeleteRoom);
  }

  /**
   * socket.io middleware (`io.use(live.middleware)`): subscribes every connecting socket that
   * carries an express-session (`io.engine.use(sessionMiddleware)`), never refusing a connection.
   */
  readonly middleware = (socket: Socket, next: (err?: Error) => void): void => {
    this.join(socket, sessionOfSocket(socket), true).then(
      () => next(),
      () => next(),
    );
  };

  /**
   * Joins a connected socket to its session's room and keeps `socket.data.session` current.
   * Resolves to true when subscribed; anything else (no socket, no session id, a disconnected
   * socket, a session the store does not have) resolves to false. Never throws.
   * `session` defaults to `socket.request.session`, and must be that session when the socket has
   * one: the id only ever comes from express-session, which read it from the signed cookie.
   */
  maybeSubscribe(socket: Socket, session?: unknown): Promise<boolean> {
    return this.join(socket, session ?? sessionOfSocket(socket), false);
  }

  /** The socket's current view of its session, or null when it has none (not subscribed, or ended). */
  sessionOf(socket: Socket): SessionView | null {
    const session = this.followed(socket);
    return session && !session.ended ? session.view : null;
  }

  /**
   * Sets one key of the session of a socket (socket form) or of an express-session session
   * (session form); every socket of that session, on every server, receives the change.
   * Resolves to the updated session; rejects with ERR_LIVE_SESSION_NOT_FOUND when the session
   * no longer exists (nothing is written, and its sockets here are told it ended).
   */
  async putSession<K extends string>(target: SessionTarget, key: K, value: SessionValue<K>): Promise<SessionView> {
    const sid = this.sessionIdOf(target);
    // The store applies its own writes to the sessions this process follows before it resolves.
    return viewOf((await this.whileLive(sid, this.store.putSessionState(sid, key, value))).session);
  }

  /**
   * Atomic read-modify-write of one key (an "add to cart" that never loses a concurrent one):
   * `fn` gets the current value and returns the new one (undefined removes the key). With a
   * SessionData augmentation, the value's type is the one declared for `key`.
   */
  async updateSession<K extends string, T extends SessionValue<K> = SessionValue<K>>(target: SessionTarget, key: K, fn: SessionUpdater<T>): Promise<SessionView> {
    const sid = this.sessionIdOf(target);
    return viewOf((await this.whileLive(sid, this.store.updateSessionState(sid, key, fn))).session);
  }

  /**
   * "Log out my other devices", from a socket or a request (`req.session`): destroys every other
   * session of the user the target's session belongs to (the store's `userOf` option says who),
   * with the reason "revoked", on every server. Resolves to how many were ended; 0 when the
   * target's session belongs to no one. Rejects with ERR_LIVE_SESSION_NOT_FOUND when the target's
   * own session no longer exists.
   */
  async destroyOtherSessions(target: SessionTarget): Promise<number> {
    const sid = this.sessionIdOf(target);
    const user = await this.userOf(sid);
    return user === null ? 0 : this.store.destroySessionsOf(user, { except: sid });
  }

  /**
   * The live sessions of the user the target's session belongs to ("where am I logged in"), each
   * with `current: true` for the target's own. Empty when it belongs to no one.
   */
  async sessionsOfUser(target: SessionTarget): Promise<(UserSession & { current: boolean })[]> {
    const sid = this.sessionIdOf(target);
    const user = await this.userOf(sid);
    if (user === null) return [];
    return (await this.store.sessionsOf(user)).map((session) => ({ ...session, current: session.id === sid }));
  }

  /**
   * Wraps a socket event handler so that it can never crash the server, and answers the client:
   * `socket.on('cart:add', live.handler(async (item: string) => ...))`. When the client asked for
   * an acknowledgement (the last argument is a function), it gets `{ ok: true }` or
   * `{ ok: false, error: { code, message } }` (`code`: the error's own code, such as
   * ERR_LIVE_SESSION_NOT_FOUND for a socket without a session, else ERR_HANDLER); without one, a
   * failure goes to the `error` event. Either way a rejection never becomes an unhandled one.
   * What `fn` resolves to is not sent: a write resolves to the whole session, which the browser
   * may see only through `expose`.
   */
  handler<A extends unknown[]>(fn: (...args: A) => unknown): (...args: [...A, HandlerAck?]) => void {
    return (...args) => {
      const last = args.at(-1);
      const ack = typeof last === 'function' ? (last as HandlerAck) : undefined;
      const params = (ack ? args.slice(0, -1) : args) as A;
      new Promise((resolve) => resolve(fn(...params))).then(
        () => ack?.({ ok: true }),
        (err: unknown) => {
          if (!ack) return this.report(err);
          const code = (err as { code?: unknown } | null)?.code;
          ack({ ok: false, error: { code: typeof code === 'string' ? code : 'ERR_HANDLER', message: err instanceof Error ? err.message : String(err) } });
        },
      );
    };
  }

  /** The channels this process is subscribed to (one per session followed here: with local sockets, or in the store's cache). */
  get channels(): string[] {
    return this.replica.channels;
  }

  /**
   * Stops listening: lets go of this server's sessions; the store's subscriber connection closes
   * once nothing else uses it (the store's client stays open).
   */
  async close(): Promise<void> {
    this.nsp.adapter.off('create-room', this.onCreateRoom);
    this.nsp.adapter.off('delete-room', this.onDeleteRoom);
    for (const follow of this.follows.values()) follow.release();
    this.follows.clear();
    this.detach();
  }

  // ---- Internals

  /** Who a session belongs to, by the store's `userOf`, from what Redis holds now. */
  private async userOf(sid: string): Promise<string | null> {
    const { userOf } = this.store.options;
    if (!userOf) {
      throw new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', 'the sessions of a user need the store option "userOf", which says who a session belongs to');
    }
    const session = await this.whileLive(sid, this.store.getSession(sid).then((found) => found ?? Promise.reject(notFound(sid))));
    return userOf(session) ?? null;
  }

  private async join(socket: Socket, session: unknown, handshake: boolean): Promise<boolean> {
    try {
      const sid = sessionIdOf(session);
      if (!sid || !isSocket(socket) || socket.nsp !== this.nsp) return false;
      // The id must be the one express-session read from this socket's signed cookie.
      const own = sessionIdOf(sessionOfSocket(socket));
      if (own !== undefined && own !== sid) {
        debug('refused to subscribe socket %s to a session that is not its own', socket.id);
        return false;
      }
      // In the middleware the socket is not connected yet; anywhere else it must be.
      if (!handshake && !socket.connected) return false;
      const key = this.store.keyOf(sid);
      const room = this.follows.get(key)?.session.key ?? key; // one string per session, not one per socket
      this.sessionIds.set(socket, sid);
      await socket.join(room);
      const follow = this.follows.get(room);
      const ready = await follow?.ready;
      const followed = follow?.session;
      if (!ready || !followed || this.follows.get(room) !== follow) return false; // left again before we got here
      if (ready === 'missing') {
        // express-session made this id for the handshake but never stored it: nothing to follow.
        this.sessionIds.delete(socket);
        await socket.leave(room);
        return false;
      }
      // Redis unreachable: start from the handshake's copy; the reload after reconnecting corrects it.
      if (ready === 'failed' && followed.version < 0) followed.view = viewOf(session as object);
      socket.data.session = followed.ended ? null : followed.view;
      if (this.expose && !followed.ended) {
        const payload = this.project(followed.view);
        if (!this.exposed.has(followed)) this.exposed.set(followed, JSON.stringify(payload));
        socket.emit(CLIENT_EVENTS.update, payload);
      }
      if (this.keepAlive) this.countActivity(socket);
      return true;
    } catch (err) {
      this.report(err);
      return false;
    }
  }

  private roomCreated(room: string): void {
    const { prefix } = this.store.options;
    if (room.startsWith(prefix) && !this.follows.has(room)) this.follows.set(room, this.replica.follow(room.slice(prefix.length), this.follower));
  }

  private roomDeleted(room: string): void {
    this.follows.get(room)?.release();
    this.follows.delete(room);
  }

  /** keepAlive: every event this socket sends counts as use of its current session. */
  private countActivity(socket: Socket): void {
    if (this.watchedSockets.has(socket)) return;
    this.watchedSockets.add(socket);
    socket.use((_packet, next) => {
      const sid = this.sessionIds.get(socket);
      if (sid !== undefined) this.replica.activity(sid);
      next();
    });
  }

  /** A call that finds the session gone ends its view here too, before the caller hears of it. */
  private async whileLive<T>(sid: string, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      if (err instanceof LiveSessionError && err.code === 'ERR_LIVE_SESSION_NOT_FOUND') await this.replica.gone(sid);
      throw err;
    }
  }

  /** Runs for every change message: no per-socket arrays, and the handlers' loop only when there are handlers. */
  private deliver(session: FollowedSession, change: SessionChange): void {
    const { key: room, view } = session;
    for (const id of this.nsp.adapter.rooms.get(room) ?? []) {
      const socket = this.nsp.sockets.get(id);
      if (socket) socket.data.session = view;
    }
    if (this.expose) {
      const payload = this.project(view);
      const exposed = JSON.stringify(payload);
      if (exposed !== this.exposed.get(session)) {
        this.exposed.set(session, exposed);
        this.nsp.local.to(room).emit(CLIENT_EVENTS.update, payload); // encoded once for the room
      }
    }
    if (this.listenerCount('update') === 0) return;
    for (const socket of this.socketsOf(room)) this.call('update', socket, view, change);
  }

  private ended(session: FollowedSession, reason: DestroyReason): void {
    const room = session.key;
    const sockets = this.socketsOf(room);
    this.nsp.local.to(room).emit(CLIENT_EVENTS.destroy, { reason });
    for (const socket of sockets) {
      socket.data.session = null;
      this.sessionIds.delete(socket);
      this.call('destroy', socket, reason);
      void socket.leave(room);
      if (this.disconnectOnDestroy) socket.disconnect(true);
    }
  }

  private followed(socket: Socket): FollowedSession | undefined {
    const sid = this.sessionIds.get(socket);
    return sid === undefined ? undefined : this.follows.get(this.store.keyOf(sid))?.session;
  }

  private socketsOf(room: string): Socket[] {
    const ids = this.nsp.adapter.rooms.get(room);
    if (!ids) return [];
    return [...ids].map((id) => this.nsp.sockets.get(id)).filter((socket): socket is Socket => !!socket);
  }

  private project(view: SessionView): unknown {
    try {
      return this.expose?.(view);
    } catch (err) {
      this.report(err);
      return undefined;
    }
  }

  /** Calls the app's handlers for one socket; a handler that throws is reported, never rethrown. */
  private call<K extends 'update' | 'destroy'>(event: K, ...args: LiveSessionEvents[K]): void {
    for (const listener of this.listeners(event)) {
      try {
        (listener as (...a: LiveSessionEvents[K]) => void)(...args);
      } catch (err) {
        this.report(err);
      }
    }
  }

  private report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else debug('error: %s', error.stack ?? error.message);
  }

  private sessionIdOf(target: SessionTarget): string {
    const sid = isSocket(target) ? this.sessionIds.get(target) ?? sessionIdOf(sessionOfSocket(target)) : sessionIdOf(target);
    if (!sid) {
      throw new TypeError('live-session: this socket or session has no session id (is express-session shared with io.engine.use?)');
    }
    return sid;
  }
}

function notFound(sid: string): LiveSessionError {
  return new LiveSessionError('ERR_LIVE_SESSION_NOT_FOUND', `session "${sid}" does not exist (destroyed, expired, or never saved)`);
}

/** Creates the LiveSession of a socket.io server (or namespace): one subscriber connection per call. */
export function createLiveSession(io: Server | Namespace, options: LiveSessionOptions): LiveSession {
  return new LiveSession(io, options);
}

function isSocket(value: unknown): value is Socket {
  return typeof value === 'object' && value !== null && 'nsp' in value && 'handshake' in value && typeof (value as Socket).join === 'function';
}

function sessionOfSocket(socket: unknown): unknown {
  return isSocket(socket) ? (socket.request as { session?: unknown }).session : undefined;
}

function sessionIdOf(session: unknown): string | undefined {
  if (typeof session !== 'object' || session === null) return undefined;
  const id = (session as { id?: unknown }).id;
  return typeof id === 'string' && id.length > 0 ? id : undefined;
}
