/**
 * How a session's news travels to one EventSource: the `text/event-stream` framing, heartbeats,
 * and backpressure. What the news is (which projection, which version) is the feed's business
 * (@live-session/core's SessionFeed).
 *
 * Event ids are `<version>.<tag>`: the session's version, and a tag from a hash of its id that
 * tells sessions apart without revealing the id (a reconnect after a login elsewhere must not take
 * the new session's version 7 for the old one's). A version that moved without a change the client
 * can see is sent as a bare `id:` line, which updates the browser's last event id without firing
 * an event, so that a reconnect carries the version the client really has.
 *
 * Backpressure: when the socket does not take a write (a client that does not read), nothing more
 * is queued; once it drains, the newest projection is sent instead of every one it missed. A
 * client that has not drained for a whole heartbeat interval is disconnected (it reconnects with
 * its last event id, if it is alive at all).
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { DestroyReason, FeedConnection, FeedSink } from '@live-session/core';

/** The events an EventSource receives (`source.addEventListener(name, ...)`). */
export const SSE_EVENTS = {
  /** data: the exposed projection (JSON); sent at connect and whenever it changes. */
  update: 'update',
  /** data: `{"reason":"logout"|"expired"|"revoked"}`; the stream then closes, and a reconnect is answered 204. */
  end: 'end',
} as const;

const HEARTBEAT = ':\n\n';

/** The tag of a session in its event ids: 12 base64url characters of SHA-256 of its id. */
export function sessionTag(sid: string): string {
  return createHash('sha256').update(sid).digest('base64url').slice(0, 12);
}

/** An `update` event: encoded once per session and version, the same bytes for every stream of the session. */
export function updateFrame(json: string, version: number, tag: string): Buffer {
  return Buffer.from(`id: ${version}.${tag}\nevent: ${SSE_EVENTS.update}\ndata: ${json}\n\n`);
}

/** The version a reconnecting EventSource holds, from its Last-Event-ID; undefined when it is not of this session. */
export function resumedVersion(lastEventId: string | string[] | undefined, tag: string): number | undefined {
  if (typeof lastEventId !== 'string') return undefined;
  const match = /^(\d{1,20})\.([\w-]{1,32})$/.exec(lastEventId.trim());
  if (!match || match[2] !== tag) return undefined;
  const version = Number(match[1]);
  return Number.isSafeInteger(version) ? version : undefined;
}

export class EventStream implements FeedSink<Buffer> {
  connection: FeedConnection<Buffer> | undefined;
  /** The socket did not take the last write: nothing more until it drains. */
  private blocked = false;
  /** Heartbeat ticks seen while blocked (the second one disconnects). */
  private blockedTicks = 0;
  private readonly onDrain = (): void => {
    this.blocked = false;
    this.blockedTicks = 0;
    this.connection?.sync(); // the newest projection, if it moved meanwhile
  };

  constructor(
    readonly res: ServerResponse,
    readonly tag: string,
  ) {}

  update(frame: Buffer): boolean {
    return this.write(frame);
  }

  moved(version: number): boolean {
    return this.write(`id: ${version}.${this.tag}\n\n`);
  }

  end(reason: DestroyReason): void {
    // Small, and the last thing: written even behind a slow client (end() then flushes or the socket dies).
    this.res.end(`event: ${SSE_EVENTS.end}\ndata: ${JSON.stringify({ reason })}\n\n`);
  }

  /** One heartbeat: a comment that keeps proxies from closing an idle stream; a client blocked since the last one is dropped. */
  heartbeat(): void {
    if (this.blocked) {
      if (++this.blockedTicks >= 2) this.res.destroy();
      return;
    }
    this.write(HEARTBEAT);
  }

  /** Accepted (the client gets it), or refused while the socket is full. */
  private write(chunk: string | Buffer): boolean {
    if (this.blocked || this.res.writableEnded || this.res.destroyed) return false;
    if (!this.res.write(chunk)) {
      this.blocked = true;
      this.res.once('drain', this.onDrain);
    }
    return true;
  }
}
