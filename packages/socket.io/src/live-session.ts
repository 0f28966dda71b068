/**
 * LiveSession: joins each socket to the room of its express-session, keeps every socket's view of
 * the session current from the change messages of @live-session/core, calls the app's handlers,
 * and sends the browser only what the app chose to expose.
 */
import { EventEmitter } from 'node:events';
import createDebug from 'debug';
import { type DestroyReason, type LiveSessionStore, parseMessage, type SessionMessage, type SessionState } from '@live-session/core';
import type { Namespace, Server, Socket } from 'socket.io';
import { ChannelSubscriber } from './subscriber';
import { applyChange, diffViews, type SessionChange, type SessionView, viewOf } from './session-view';

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
   * Disconnect the sockets of a session once it is destroyed (after the destroy event).
   * @default false
   */
  disconnectOnDestroy?: boolean;
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

/** What this process knows of one session that has sockets here. */
interface SessionEntry {
  sid: string;
  room: string;
  /** -1 until the session was read from Redis. */
  version: number;
  view: SessionView;
  /** The last payload sent to the browser, as JSON, to send only real changes. */
  exposed: string | undefined;
  /** Messages and reloads of this session, one at a time and in order. */
  queue: Promise<void>;
  /** Settles once subscribed and read: 'missing' when the store has no such session. */
  ready: Promise<'ok' | 'missing' | 'failed'>;
  gone: boolean;
}

type SessionUpdater<T> = (current: T | undefined) => T | undefined | Promise<T | undefined>;

export class LiveSession extends EventEmitter<LiveSessionEvents> {
  readonly store: LiveSessionStore;
  private readonly nsp: Namespace;
  private readonly expose: ((session: SessionView) => unknown) | undefined;
  private readonly disconnectOnDestroy: boolean;
  private readonly subscriber: ChannelSubscriber;
  private readonly entries = new Map<string, SessionEntry>();
  /** The session id of each subscribed socket, as express-session gave it. */
  private readonly sessionIds = new WeakMap<Socket, string>();
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
    this.subscriber = new ChannelSubscriber(this.store.redis, this.store.options.publish, {
      message: (channel, message) => this.onMessage(channel, message),
      resubscribed: (channels) => void this.reloadAll(channels),
    });
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

  /** The socket's current view of its session, or null when it is not subscribed. */
  sessionOf(socket: Socket): SessionView | null {
    const sid = this.sessionIds.get(socket);
    const entry = sid === undefined ? undefined : this.entries.get(this.store.keyOf(sid));
    return entry && !entry.gone ? entry.view : null;
  }

  /**
   * Sets one key of the session of a socket (socket form) or of an express-session session
   * (session form); every socket of that session, on every server, receives the change.
   * Resolves to the updated session; rejects with ERR_LIVE_SESSION_NOT_FOUND when the session
   * no longer exists (nothing is written).
   */
  async putSession(target: SessionTarget, key: string, value: unknown): Promise<SessionView> {
    const sid = this.sessionIdOf(target);
    return this.adopt(sid, await this.store.putSessionState(sid, key, value));
  }

  /**
   * Atomic read-modify-write of one key (an "add to cart" that never loses a concurrent one):
   * `fn` gets the current value and returns the new one (undefined removes the key).
   */
  async updateSession<T = unknown>(target: SessionTarget, key: string, fn: SessionUpdater<T>): Promise<SessionView> {
    const sid = this.sessionIdOf(target);
    return this.adopt(sid, await this.store.updateSessionState(sid, key, fn));
  }

  /** The channels this process is subscribed to (one per session with local sockets). */
  get channels(): string[] {
    return this.subscriber.channels;
  }

  /** Stops listening: closes the subscriber connection (the store's client stays open). */
  async close(): Promise<void> {
    this.nsp.adapter.off('create-room', this.onCreateRoom);
    this.nsp.adapter.off('delete-room', this.onDeleteRoom);
    this.entries.clear();
    await this.subscriber.close();
  }

  // ---- Internals

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
      const room = this.store.keyOf(sid);
      this.sessionIds.set(socket, sid);
      await socket.join(room);
      const entry = this.entries.get(room);
      if (!entry) return false; // left again before we got here
      const ready = await entry.ready;
      if (ready === 'missing') {
        // express-session made this id for the handshake but never stored it: nothing to follow.
        this.sessionIds.delete(socket);
        await socket.leave(room);
        return false;
      }
      // Redis unreachable: start from the handshake's copy; the reload after reconnecting corrects it.
      if (ready === 'failed' && entry.version < 0) entry.view = viewOf(session as object);
      socket.data.session = entry.view;
      if (this.expose && !entry.gone) socket.emit(CLIENT_EVENTS.update, this.project(entry.view));
      return true;
    } catch (err) {
      this.report(err);
      return false;
    }
  }

  private roomCreated(room: string): void {
    const { prefix } = this.store.options;
    if (!room.startsWith(prefix) || this.entries.has(room)) return;
    const entry: SessionEntry = {
      sid: room.slice(prefix.length),
      room,
      version: -1,
      view: Object.freeze({}),
      exposed: undefined,
      queue: Promise.resolve(),
      ready: Promise.resolve('ok'),
      gone: false,
    };
    this.entries.set(room, entry);
    // Subscribe first, then read: a change published in between is both in the read and in a
    // message, and the message's version tells it apart.
    entry.ready = this.subscriber.subscribe(room).then(() =>
      this.enqueue(entry, async () => {
        const state = await this.store.getSessionState(entry.sid);
        if (!state) {
          entry.gone = true;
          return;
        }
        if (state.version < entry.version) return; // a write through this process got here first
        entry.version = state.version;
        entry.view = viewOf(state.session);
        entry.exposed = this.expose ? JSON.stringify(this.project(entry.view)) : undefined;
      }).then(
        () => (entry.gone ? 'missing' : 'ok'),
        (err: unknown) => {
          debug('reading %s failed: %s', room, (err as Error).message);
          return 'failed' as const;
        },
      ),
    );
  }

  private roomDeleted(room: string): void {
    const entry = this.entries.get(room);
    if (!entry) return;
    this.entries.delete(room);
    void this.subscriber.unsubscribe(room);
  }

  private onMessage(channel: string, raw: string): void {
    const entry = this.entries.get(channel);
    if (!entry) return;
    const message = parseMessage(raw);
    if (!message) {
      debug('dropped a malformed message on %s', channel);
      return;
    }
    void this.enqueue(entry, () => this.handle(entry, message)).catch((err: unknown) => this.report(err));
  }

  private async handle(entry: SessionEntry, message: SessionMessage): Promise<void> {
    if (entry.gone || message.version <= entry.version) return; // already seen, through a read
    if (message.event === 'destroy') return this.destroyed(entry, message.reason);
    if (message.version === entry.version + 1) {
      const change = { version: message.version, set: message.set, unset: message.unset };
      entry.version = message.version;
      entry.view = applyChange(entry.view, message);
      return this.deliver(entry, change);
    }
    // A gap: a message was missed. Read the whole session rather than apply anything out of order.
    debug('version gap on %s: have %d, got %d', entry.room, entry.version, message.version);
    await this.reload(entry);
  }

  private async reload(entry: SessionEntry, known?: SessionState | null): Promise<void> {
    const state = known === undefined ? await this.store.getSessionState(entry.sid) : known;
    if (!state) return this.destroyed(entry, 'expired'); // gone while we were not listening: most likely its lifetime passed
    this.applyState(entry, state);
  }

  private applyState(entry: SessionEntry, state: SessionState): void {
    if (entry.gone || state.version <= entry.version) return;
    const view = viewOf(state.session);
    const change = diffViews(entry.view, view, state.version);
    entry.version = state.version;
    entry.view = view;
    if (change.unset.length > 0 || Object.keys(change.set).length > 0) this.deliver(entry, change);
  }

  /** After a reconnect: read every session with local sockets in one round trip. */
  private async reloadAll(channels: string[]): Promise<void> {
    const entries = channels.map((channel) => this.entries.get(channel)).filter((entry): entry is SessionEntry => !!entry);
    if (entries.length === 0) return;
    try {
      const states = await this.store.getSessionStates(entries.map((entry) => entry.sid));
      for (const entry of entries) {
        void this.enqueue(entry, () => this.reload(entry, states.get(entry.sid) ?? null)).catch((err: unknown) => this.report(err));
      }
    } catch (err) {
      this.report(err);
    }
  }

  /**
   * A write made through this process returns the session at its version: the local sockets get
   * it now (the message that follows has that version and is skipped), so after `await
   * putSession(socket, ...)` the socket's view already holds the write.
   */
  private async adopt(sid: string, state: SessionState): Promise<SessionView> {
    const entry = this.entries.get(this.store.keyOf(sid));
    if (entry) await this.enqueue(entry, () => this.applyState(entry, state)).catch((err: unknown) => this.report(err));
    return viewOf(state.session);
  }

  private deliver(entry: SessionEntry, change: SessionChange): void {
    const payload = this.expose ? this.project(entry.view) : undefined;
    const exposed = this.expose ? JSON.stringify(payload) : undefined;
    const sendToBrowser = this.expose !== undefined && exposed !== entry.exposed;
    entry.exposed = exposed;
    for (const socket of this.socketsOf(entry)) {
      socket.data.session = entry.view;
      if (sendToBrowser) socket.emit(CLIENT_EVENTS.update, payload);
      this.call('update', socket, entry.view, change);
    }
  }

  private destroyed(entry: SessionEntry, reason: DestroyReason): void {
    entry.gone = true;
    entry.view = Object.freeze({});
    for (const socket of this.socketsOf(entry)) {
      socket.data.session = null;
      this.sessionIds.delete(socket);
      socket.emit(CLIENT_EVENTS.destroy, { reason });
      this.call('destroy', socket, reason);
      void socket.leave(entry.room);
      if (this.disconnectOnDestroy) socket.disconnect(true);
    }
  }

  private socketsOf(entry: SessionEntry): Socket[] {
    const ids = this.nsp.adapter.rooms.get(entry.room);
    if (!ids) return [];
    return [...ids].map((id) => this.nsp.sockets.get(id)).filter((socket): socket is Socket => !!socket);
  }

  private enqueue(entry: SessionEntry, task: () => void | Promise<void>): Promise<void> {
    const run = entry.queue.then(task);
    entry.queue = run.catch(() => undefined);
    return run;
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
