/**
 * The limits a write meets outside the store's own options, checked in Node before anything is
 * sent. The write script itself has no limit on the number of fields (it works in chunks).
 */
import { LiveSessionError } from './errors';

/**
 * Redis's `proto-max-bulk-len` default: a larger argument is a protocol error, on which Redis
 * closes the connection, failing every other command in flight on it.
 */
export const MAX_ARGUMENT_BYTES = 512 * 1024 * 1024;

/** Throws ERR_LIVE_SESSION_VALUE_TOO_LARGE when one argument of a write is over MAX_ARGUMENT_BYTES. */
export function checkArguments(sid: string, args: readonly string[]): void {
  for (const arg of args) {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: only very long strings need counting.
    if (arg.length * 3 <= MAX_ARGUMENT_BYTES) continue;
    const bytes = Buffer.byteLength(arg);
    if (bytes > MAX_ARGUMENT_BYTES) {
      throw new LiveSessionError(
        'ERR_LIVE_SESSION_VALUE_TOO_LARGE',
        `session "${sid}": one value takes ${bytes} bytes as stored, over the ${MAX_ARGUMENT_BYTES} bytes one Redis argument can hold (proto-max-bulk-len); nothing was written`,
      );
    }
  }
}
