/**
 * What the messages between a browser's WebSocket and the server mean (JSON text frames). How they
 * travel (frames, backpressure, heartbeats) is socket-connection.ts's business.
 *
 *   server -> client  {"type":"update","version":7,"data":<the exposed projection>}
 *                     {"type":"end","reason":"logout"|"expired"|"revoked"}  (then the close code below)
 *                     {"type":"reply","id":1,"ok":true,"version":8}
 *                     {"type":"reply","id":1,"ok":false,"error":{"code":"...","message":"..."}}
 *   client -> server  {"type":"write","id":1,"key":"cart","value":...}  (only with the `writable` option)
 */
import type { DestroyReason } from '@live-session/core';

/** Close codes of a connection whose session ended (4000-4999: for applications), with the reason as the close reason. */
export const CLOSE_CODES: Readonly<Record<DestroyReason, number>> = Object.freeze({
  logout: 4001,
  expired: 4002,
  revoked: 4003,
});

/** The close code when the server shuts down (the client may reconnect, to another server). */
export const GOING_AWAY = 1001;

/** The `update` message of one session version: encoded once, sent to every connection of the session. */
export function updateMessage(json: string, version: number): Buffer {
  return Buffer.from(`{"type":"update","version":${version},"data":${json}}`);
}

export function endMessage(reason: DestroyReason): string {
  return JSON.stringify({ type: 'end', reason });
}

export type ReplyId = string | number | null;

export type WriteReply = { ok: true; version: number } | { ok: false; error: { code: string; message: string } };

export function replyMessage(id: ReplyId, reply: WriteReply): string {
  return JSON.stringify({ type: 'reply', id, ...reply });
}

/** A client's write, as it arrived (checked by the caller). */
export interface WriteRequest {
  id: ReplyId;
  key: unknown;
  value: unknown;
}

/** The write a text message asks for; undefined for any other message (left to the app's own handlers). */
export function parseWrite(text: string): WriteRequest | undefined {
  if (!text.includes('"write"')) return undefined; // most app messages: no JSON.parse
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'write') return undefined;
  const { id, key, value } = message as { id?: unknown; key?: unknown; value?: unknown };
  return { id: typeof id === 'string' || typeof id === 'number' ? id : null, key, value };
}

/** The error a write is answered with: the error's own string code (ERR_LIVE_SESSION_NOT_FOUND...), else ERR_HANDLER. */
export function failure(err: unknown): WriteReply {
  const code = (err as { code?: unknown } | null)?.code;
  return { ok: false, error: { code: typeof code === 'string' ? code : 'ERR_HANDLER', message: err instanceof Error ? err.message : String(err) } };
}
