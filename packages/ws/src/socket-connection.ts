/**
 * How a session's news travels to one WebSocket: text frames, backpressure, liveness. What the news
 * is comes from the feed (@live-session/core's SessionFeed), what the messages mean from protocol.ts.
 *
 * Backpressure: while more than HIGH_WATER bytes wait to be written to the socket (a client that
 * does not read), no update is queued; once what was sent is written out, the newest projection is
 * sent instead of every one it missed. Liveness: a ping per heartbeat; a client that did not answer
 * the last one (dead, or not reading at all) is terminated.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DestroyReason, FeedConnection, FeedSink } from '@live-session/core';
import { CLOSE_CODES, endMessage } from './protocol';

/** Bytes waiting to be written past which updates wait (and coalesce) instead of queueing. */
const HIGH_WATER = 64 * 1024;
/** WebSocket.OPEN */
const OPEN = 1;

/**
 * What this package uses of a `ws` WebSocket. Structural, so that a WebSocket typed by ws's
 * CommonJS typings and one typed by its ES module typings (two declarations of one class) both fit.
 */
export interface LiveSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Buffer, options: { binary?: boolean }, cb?: (err?: Error) => void): void;
  close(code?: number, data?: string): void;
  ping(): void;
  terminate(): void;
  on(event: 'pong', listener: () => void): unknown;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): unknown;
}

/** What this package uses of a `ws` WebSocketServer (structural, as LiveSocket). */
export interface UpgradeServer<S extends LiveSocket> {
  readonly options: { noServer?: boolean | undefined };
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, callback: (client: S, request: IncomingMessage) => void): void;
  emit(event: 'connection', client: S, request: IncomingMessage): boolean;
}

export class SocketConnection implements FeedSink<Buffer> {
  connection!: FeedConnection<Buffer>;
  ws: LiveSocket | undefined;
  /** Answered the last ping. */
  alive = true;
  /** Sends whose bytes are not written out yet. */
  private inFlight = 0;
  private blocked = false;
  private readonly sent = (): void => {
    if (--this.inFlight === 0 && this.blocked) this.unblock();
  };

  update(frame: Buffer): boolean {
    const ws = this.ws;
    if (this.blocked || !ws || ws.readyState !== OPEN) return false;
    if (ws.bufferedAmount >= HIGH_WATER) {
      this.blocked = true; // the newest projection goes once what is queued is written out (or at the next heartbeat)
      return false;
    }
    this.inFlight++;
    ws.send(frame, { binary: false }, this.sent);
    return true;
  }

  /** A WebSocket client does not resume from a version: nothing to tell. */
  moved(): boolean {
    return true;
  }

  end(reason: DestroyReason): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return;
    ws.send(endMessage(reason), {}); // small, and the last: sent even behind a slow client
    ws.close(CLOSE_CODES[reason], reason);
  }

  /** One heartbeat: terminates a client that did not answer the last ping, pings the others. */
  heartbeat(): void {
    const ws = this.ws;
    if (!ws) return;
    if (!this.alive) return void ws.terminate();
    this.alive = false;
    ws.ping();
    if (this.blocked && ws.bufferedAmount < HIGH_WATER) this.unblock();
  }

  private unblock(): void {
    if (this.ws && this.ws.bufferedAmount >= HIGH_WATER) return; // still full: a later send or heartbeat tries again
    this.blocked = false;
    this.connection.sync();
  }
}
