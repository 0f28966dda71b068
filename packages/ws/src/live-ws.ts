/**
 * LiveWs: a plain `ws` WebSocketServer (noServer mode) whose connections follow their sessions:
 * each upgrade request's session comes from express-session's signed cookie, is checked before the
 * handshake completes (no live session: 401, no WebSocket), and its connection gets every change as
 * the app exposes it, in version order from any server, and the end of the session with its
 * reason as a message and a close code. Optionally the client writes keys the app made writable,
 * each write atomic and answered. Each connection follows its session through the store's replica
 * (@live-session/core's SessionFeed): one subscriber connection per process.
 */
import { EventEmitter } from 'node:events';
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import createDebug from 'debug';
import type { SessionData } from 'express-session';
import {
  type checkCookieOptions,
  LiveSessionError,
  type LiveSessionStore,
  type LiveTransportOptions,
  optionChecks,
  TRANSPORT_OPTION_SPECS,
  transportCookie,
  resolveTransportOptions,
  SessionFeed,
  sessionIdOfRequest,
  type SessionValue,
  type SessionView,
  viewOf,
} from '@live-session/core';
import type { WebSocket } from 'ws';
import { failure, GOING_AWAY, parseWrite, replyMessage, updateMessage, type WriteRequest } from './protocol';
import { type LiveSocket, SocketConnection, type UpgradeServer } from './socket-connection';

const debug = createDebug('live-session:ws');

/** How a client's value for one key becomes the key's new value: validate, merge, or throw (the client is answered the error). */
export type KeyWriter<T> = (value: unknown, current: T | undefined) => T | undefined | Promise<T | undefined>;

/**
 * The keys a client may write, each with its KeyWriter (run inside an atomic read-modify-write:
 * concurrent writes of the same key from any server never lose one). Keys declared in the app's
 * SessionData get their declared type.
 */
export type WritableKeys = { [K in Exclude<keyof SessionData, 'cookie'>]?: KeyWriter<SessionData[K]> } & { [key: string]: KeyWriter<any> | undefined }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The options of every live transport (`store`, `expose`, `secret`, `name`: see LiveTransportOptions), and these. */
export interface LiveWsOptions extends LiveTransportOptions {
  /**
   * The keys the client may write with a `write` message, and how its value becomes the new one.
   * Without it, the client's messages are left to the app.
   * @default undefined
   */
  writable?: WritableKeys;
  /**
   * Count the client's messages as use of its session, as an HTTP request is: its lifetime is
   * refreshed (at most once per tenth of its refresh interval, per session and server).
   * @default false
   */
  keepAlive?: boolean;
  /**
   * ms between pings; a client that did not answer the last one is terminated. 0: none.
   * @default 30000
   */
  heartbeat?: number;
  /**
   * Whether a browser page of `origin` may connect (a page of another site would otherwise use the
   * user's cookie: cross-site WebSocket hijacking). Refused with 403.
   * @default same origin: no Origin header (not a browser), or one whose host is the request's Host
   */
  allowOrigin?: (origin: string | undefined, req: IncomingMessage) => boolean;
}

type Resolved = Required<Pick<LiveWsOptions, 'store' | 'keepAlive' | 'heartbeat' | 'allowOrigin'>> & Omit<LiveWsOptions, 'store' | 'keepAlive' | 'heartbeat' | 'allowOrigin'>;

const WHERE = 'createLiveWs';
const SPECS = {
  ...TRANSPORT_OPTION_SPECS,
  writable: {
    check: (value: unknown, name: string, where: string): WritableKeys | undefined => {
      if (value === undefined) return undefined;
      const entries = typeof value === 'object' && value !== null ? Object.entries(value) : undefined;
      if (!entries || entries.some(([, writer]) => typeof writer !== 'function')) {
        throw new TypeError(`${where} option "${name}" maps each key a client may write to a function (value, current) => new value`);
      }
      return Object.assign(Object.create(null) as WritableKeys, value);
    },
  },
  keepAlive: { default: () => false, check: optionChecks.boolean },
  heartbeat: { default: () => 30_000, check: optionChecks.wholeNumber(0) },
  allowOrigin: {
    default: () => sameOrigin,
    check: (value: unknown, name: string, where: string) => optionChecks.optionalFunction<Resolved['allowOrigin']>(value, name, where) ?? sameOrigin,
  },
};

export interface LiveWsEvents {
  /** Something failed in the background (an `expose` that threw, a read after a gap, a failed write answered to the client). */
  error: [error: Error];
}

/** `S`: the WebSocket type of the app's `ws` typings (inferred from the WebSocketServer). */
export class LiveWs<S extends LiveSocket = WebSocket> extends EventEmitter<LiveWsEvents> {
  readonly store: LiveSessionStore;
  private readonly options: Resolved;
  private readonly cookie: ReturnType<typeof checkCookieOptions>;
  private readonly feed: SessionFeed<Buffer>;
  private readonly connections = new Map<S, SocketConnection>();
  private readonly heartbeats: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly wss: UpgradeServer<S>,
    options: LiveWsOptions,
  ) {
    super();
    if (!wss || typeof wss.handleUpgrade !== 'function' || typeof wss.options !== 'object') throw new TypeError(`${WHERE}(wss, options): wss is a WebSocketServer from the ws package`);
    if (!wss.options.noServer) {
      throw new TypeError(`${WHERE}: create the WebSocketServer with { noServer: true } and pass the upgrades to live.handleUpgrade (the session is checked before the handshake)`);
    }
    this.options = resolveTransportOptions<Resolved>(WHERE, options, SPECS);
    this.store = this.options.store;
    this.cookie = transportCookie(this.options, WHERE);
    this.feed = new SessionFeed<Buffer>({
      store: this.store,
      expose: this.options.expose,
      encode: updateMessage,
      report: (err) => this.report(err),
    });
    if (this.options.heartbeat > 0) {
      // One timer for every connection.
      this.heartbeats = setInterval(() => {
        for (const connection of this.connections.values()) connection.heartbeat();
      }, this.options.heartbeat).unref();
    }
  }

  /**
   * Completes an upgrade request of the app's `http` server (`server.on('upgrade', ...)`) when it
   * carries a live session: the WebSocketServer then emits `connection` (ws, req), and `callback`
   * is called the same way. Otherwise the request is answered with no WebSocket: 401 (no session,
   * a forged cookie, a session that ended), 403 (another site's page: `allowOrigin`), 503 (Redis
   * cannot be read, or the server is closing). Never throws.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, callback?: (ws: S, req: IncomingMessage) => void): void {
    this.upgrade(req, socket, head, callback).catch((err: unknown) => {
      this.report(err);
      refuse(socket, 500);
    });
  }

  /** The connection's current view of its session; null when it has none (not ours, or ended). */
  sessionOf(ws: S): SessionView | null {
    const connection = this.connections.get(ws)?.connection;
    return connection && !connection.closed && !connection.session.ended ? connection.session.view : null;
  }

  /**
   * Atomic read-modify-write of one key of the connection's session, for the app's own message
   * handlers: `fn` gets the current value and returns the new one (undefined removes the key).
   * Resolves to the updated view; rejects with ERR_LIVE_SESSION_NOT_FOUND when the session has
   * ended (nothing is written).
   */
  async updateSession<K extends string, T extends SessionValue<K> = SessionValue<K>>(
    ws: S,
    key: K,
    fn: (current: T | undefined) => T | undefined | Promise<T | undefined>,
  ): Promise<SessionView> {
    const connection = this.connections.get(ws)?.connection;
    if (!connection) throw new LiveSessionError('ERR_LIVE_SESSION_NOT_FOUND', 'this WebSocket has no session (it did not connect through live.handleUpgrade, or it closed)');
    try {
      return viewOf((await connection.update(key, fn)).session);
    } catch (err) {
      if (isNotFound(err)) void connection.gone(); // it ended: the connection is told (and closed)
      throw err;
    }
  }

  /** How many connections are open on this server. */
  get size(): number {
    return this.connections.size;
  }

  /** The channels this process is subscribed to (whoever follows through the store's replica). */
  get channels(): string[] {
    return this.feed.channels;
  }

  /**
   * Closes every connection with 1001 (going away: the clients may reconnect, to another server)
   * and lets go of their sessions. The WebSocketServer, the store and its client stay open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeats);
    for (const ws of this.connections.keys()) ws.close(GOING_AWAY, 'server shutting down');
    this.connections.clear();
    this.feed.close();
  }

  // ---- Internals

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, callback?: (ws: S, req: IncomingMessage) => void): Promise<void> {
    if (this.closed) return refuse(socket, 503);
    if (!this.options.allowOrigin(req.headers.origin, req)) return refuse(socket, 403);
    const sid = sessionIdOfRequest(req, this.cookie);
    if (sid === undefined) return refuse(socket, 401);
    const sink = new SocketConnection();
    const connection = this.feed.open(sid, sink);
    if (!connection) return refuse(socket, 401);
    sink.connection = connection;
    // The socket carries the WebSocket once upgraded: when it closes, however, the session is let go.
    let upgraded: S | undefined;
    socket.once('close', () => {
      connection.release();
      if (upgraded) this.connections.delete(upgraded);
    });
    const outcome = await connection.ready;
    if (socket.destroyed || connection.closed) return void socket.destroy();
    if (this.closed) return refuse(socket, 503);
    if (outcome !== 'ok') return refuse(socket, outcome === 'missing' ? 401 : 503);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = ws;
      sink.ws = ws;
      this.connections.set(ws, sink);
      ws.on('pong', () => (sink.alive = true));
      if (this.options.writable || this.options.keepAlive) {
        ws.on('message', (data, isBinary) => {
          if (this.options.keepAlive) connection.activity();
          if (this.options.writable && !isBinary) this.write(ws, sink, parseWrite(data.toString()));
        });
      }
      connection.start(); // the current view first, then every change
      this.wss.emit('connection', ws, req);
      callback?.(ws, req);
    });
  }

  /** A client's write: answered, never thrown. */
  private write(ws: S, sink: SocketConnection, request: WriteRequest | undefined): void {
    if (!request) return;
    const answer = (reply: Parameters<typeof replyMessage>[1]) => {
      if (ws.readyState === 1) ws.send(replyMessage(request.id, reply), {}); // OPEN
    };
    const { key } = request;
    const writer = typeof key === 'string' ? this.options.writable?.[key] : undefined;
    if (!writer) {
      return answer({ ok: false, error: { code: 'ERR_LIVE_SESSION_NOT_WRITABLE', message: `the client may not write ${JSON.stringify(key)} (option "writable")` } });
    }
    sink.connection
      .update(key as string, (current) => writer(request.value, current))
      .then(
        (state) => answer({ ok: true, version: state.version }),
        (err: unknown) => {
          debug('a write of %s failed: %s', key, (err as Error).message);
          answer(failure(err));
          if (isNotFound(err)) return sink.connection.gone(); // the reply first, then the end
        },
      )
      .catch((err: unknown) => this.report(err));
  }

  private report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else debug('error: %s', error.stack ?? error.message);
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof LiveSessionError && err.code === 'ERR_LIVE_SESSION_NOT_FOUND';
}

/** No WebSocket: an HTTP answer on the raw socket, then closed (as ws itself refuses a handshake). */
function refuse(socket: Duplex, status: number): void {
  if (!socket.writable) return void socket.destroy();
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** A browser page of this site (the Origin's host is the Host the request was sent to), or no browser at all. */
function sameOrigin(origin: string | undefined, req: IncomingMessage): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** Follows the sessions of the connections `wss` (a `ws` WebSocketServer with `noServer: true`) accepts through `live.handleUpgrade`. */
export function createLiveWs<S extends LiveSocket>(wss: UpgradeServer<S>, options: LiveWsOptions): LiveWs<S> {
  return new LiveWs(wss, options);
}
