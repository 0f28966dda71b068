/** Machine-readable reasons a store operation failed; `err.code` holds one of them. */
export type LiveSessionErrorCode =
  /** The session id is not a non-empty string (or is too long). */
  | 'ERR_LIVE_SESSION_BAD_ID'
  /** A stored field could not be decoded (written by something else than this store). */
  | 'ERR_LIVE_SESSION_CORRUPT'
  /** A value cannot be represented in JSON (BigInt, a cycle, ...). Nothing was written. */
  | 'ERR_LIVE_SESSION_UNSERIALIZABLE'
  /** The session would exceed the `maxBytes` option. Nothing was written. */
  | 'ERR_LIVE_SESSION_TOO_LARGE'
  /** One value is larger than one Redis command argument can be (512 MiB, Redis's proto-max-bulk-len default). Nothing was written. */
  | 'ERR_LIVE_SESSION_VALUE_TOO_LARGE'
  /** The session does not exist (never did, destroyed, or expired). Nothing was written. */
  | 'ERR_LIVE_SESSION_NOT_FOUND'
  /** `updateSession` kept losing the race for the same key. Nothing was written. */
  | 'ERR_LIVE_SESSION_CONFLICT'
  /** Redis did not answer within the `timeout` option. */
  | 'ERR_LIVE_SESSION_TIMEOUT'
  /** Redis or the client (ioredis, node-redis) failed the command (connection lost, retries exhausted, WRONGTYPE, ...); the client's error is in `cause` (`isWrongType(err)` tells a key of another type). */
  | 'ERR_LIVE_SESSION_REDIS'
  /** An argument is not what the method takes. */
  | 'ERR_LIVE_SESSION_INVALID_ARGUMENT'
  /** A session event handler threw or rejected (its error is the `cause`); the event is delivered again. */
  | 'ERR_LIVE_SESSION_HANDLER'
  /** A session event was given up after its handler failed `maxAttempts` times; it is not delivered again. */
  | 'ERR_LIVE_SESSION_EVENT_DROPPED';

/** The only error type the store rejects with; the original error, if any, is in `cause`. */
export class LiveSessionError extends Error {
  override readonly name = 'LiveSessionError';

  constructor(
    readonly code: LiveSessionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
