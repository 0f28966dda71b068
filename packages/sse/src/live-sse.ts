/**
 * LiveSse: a Server-Sent Events endpoint that streams each request's session, as the app exposes
 * it, for Node's `(req, res)`: Express (`app.get('/live', live.stream)`), Fastify (`reply.hijack()`
 * then `live.stream(request.raw, reply.raw)`), or a plain `http` server. Each stream follows its
 * session through the store's replica (@live-session/core's SessionFeed): changes in version order
 * from any server, the end with its reason, one subscriber connection per process.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import createDebug from 'debug';
import {
  type checkCookieOptions,
  type LiveSessionStore,
  type LiveTransportOptions,
  optionChecks,
  resolveTransportOptions,
  SessionFeed,
  sessionIdOfRequest,
  TRANSPORT_OPTION_SPECS,
  transportCookie,
} from '@live-session/core';
import { EventStream, resumedVersion, sessionTag, updateFrame } from './event-stream';

const debug = createDebug('live-session:sse');

/** The options of every live transport (`store`, `expose`, `secret`, `name`: see LiveTransportOptions), and these. */
export interface LiveSseOptions extends LiveTransportOptions {
  /**
   * ms between heartbeats (a comment line that keeps proxies from closing an idle stream); a
   * client that has not taken what was written for a whole interval is disconnected. 0: none.
   * @default 15000
   */
  heartbeat?: number;
  /**
   * ms the browser waits before it reconnects (the stream's `retry:` field), sent at the start of
   * each stream; undefined leaves the browser's default (about 3 s).
   * @default undefined
   */
  retry?: number;
}

type Resolved = Required<Pick<LiveSseOptions, 'store' | 'heartbeat'>> & Omit<LiveSseOptions, 'store' | 'heartbeat'>;

const WHERE = 'createLiveSse';
const SPECS = {
  ...TRANSPORT_OPTION_SPECS,
  heartbeat: { default: () => 15_000, check: optionChecks.wholeNumber(0) },
  retry: { check: (value: unknown, name: string, where: string) => (value === undefined ? undefined : optionChecks.wholeNumber(0)(value, name, where)) },
};

export interface LiveSseEvents {
  /** Something failed in the background (an `expose` that threw, a read after a gap). */
  error: [error: Error];
}

/** Headers of an event stream: never cached or transformed (compression would hold events back), nor buffered by nginx. */
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

export class LiveSse extends EventEmitter<LiveSseEvents> {
  readonly store: LiveSessionStore;
  private readonly options: Resolved;
  private readonly cookie: ReturnType<typeof checkCookieOptions>;
  private readonly feed: SessionFeed<Buffer>;
  private readonly streams = new Set<EventStream>();
  private readonly heartbeats: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: LiveSseOptions) {
    super();
    this.options = resolveTransportOptions<Resolved>(WHERE, options, SPECS);
    this.store = this.options.store;
    this.cookie = transportCookie(this.options, WHERE);
    this.feed = new SessionFeed<Buffer>({
      store: this.store,
      expose: this.options.expose,
      encode: (json, version, session) => updateFrame(json, version, sessionTag(session.sid)),
      report: (err) => this.report(err),
    });
    if (this.options.heartbeat > 0) {
      // One timer for every stream (a timer per stream would cost more heap than the stream).
      this.heartbeats = setInterval(() => {
        for (const stream of this.streams) stream.heartbeat();
      }, this.options.heartbeat).unref();
    }
  }

  /**
   * The `(req, res)` handler (bound: pass it as it is). A request whose session is live gets a
   * `200 text/event-stream`: an `update` event with what it lacks (nothing when its Last-Event-ID
   * names the current version), then one per change, and an `end` event with the reason when the
   * session ends, after which the stream closes. A request without a live session (no cookie, a
   * forged one, a session that ended) gets `204 No Content`, which tells an EventSource to stop
   * reconnecting. While Redis cannot be read, the stream ends at once with a `retry:` so that the
   * browser tries again. Never throws.
   */
  readonly stream = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((err: unknown) => {
      this.report(err);
      if (!res.headersSent) res.writeHead(500).end();
      else res.end();
    });
  };

  /** How many streams are open on this server. */
  get size(): number {
    return this.streams.size;
  }

  /** The channels this process is subscribed to (whoever follows through the store's replica). */
  get channels(): string[] {
    return this.feed.channels;
  }

  /**
   * Ends every stream (the browsers reconnect, with their last event id, to whichever server
   * answers) and lets go of their sessions. The store and its client stay open.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeats);
    for (const stream of this.streams) stream.res.end();
    this.streams.clear();
    this.feed.close();
  }

  // ---- Internals

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.closed) return void res.destroy(); // shutting down: the browser reconnects (to another server)
    const sid = sessionIdOfRequest(req, this.cookie);
    if (sid === undefined) return refuse(res);
    const tag = sessionTag(sid);
    const stream = new EventStream(res, tag);
    const connection = this.feed.open(sid, stream);
    if (!connection) return refuse(res);
    stream.connection = connection;
    res.once('close', () => {
      connection.release(); // the last stream of a session on this server unsubscribes
      this.streams.delete(stream);
    });
    const outcome = await connection.ready;
    if (res.destroyed || connection.closed) return; // the client left, or the session ended, while we read it
    if (this.closed) return void res.destroy();
    if (outcome === 'missing') return refuse(res);
    res.writeHead(200, req.httpVersionMajor === 1 ? { ...STREAM_HEADERS, connection: 'keep-alive' } : STREAM_HEADERS);
    if (outcome === 'failed') {
      // Redis could not be read: nothing true to send yet. Ending the stream makes an EventSource
      // reconnect after `retry` (any other status would make it give up for good).
      debug('could not read the session of a stream: the browser retries');
      return void res.end(`retry: ${this.options.retry ?? 2000}\n\n`);
    }
    res.flushHeaders();
    if (this.options.retry !== undefined) res.write(`retry: ${this.options.retry}\n\n`);
    this.streams.add(stream);
    connection.start(resumedVersion(req.headers['last-event-id'], tag));
  }

  private report(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else debug('error: %s', error.stack ?? error.message);
  }
}

/** No session to follow: 204 tells an EventSource not to reconnect. */
function refuse(res: ServerResponse): void {
  if (res.headersSent || res.destroyed) return void res.end();
  res.writeHead(204, { 'cache-control': 'no-store' }).end();
}

/** Creates a Server-Sent Events endpoint for the sessions of `store`; `live.stream` is its `(req, res)` handler. */
export function createLiveSse(options: LiveSseOptions): LiveSse {
  return new LiveSse(options);
}
