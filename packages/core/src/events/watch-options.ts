/** Options of `watchSessions(store, handlers, options)`: declared once, checked once. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { LiveSessionError } from '../errors';
import type { SessionEvent } from './event';

export interface WatchOptions {
  /**
   * This watcher's name in the consumer group of every shard: unique per process (a second
   * watcher under the same name would take its events as its own).
   * @default `<hostname>:<pid>:<random>`
   */
  consumer?: string;
  /**
   * How many events this watcher hands to handlers at once (and reads ahead of them).
   * @default 10
   */
  concurrency?: number;
  /**
   * ms an event may stay unacknowledged by the watcher that read it before another watcher takes it:
   * the wait after a watcher died mid-event, and before a handler that failed is given the event
   * again. A live watcher keeps the events it is handling, however long its handler takes.
   * @default 30000
   */
  claimAfter?: number;
  /**
   * Deliveries of an event whose handler keeps failing before it is given up (reported to `onError`
   * as ERR_LIVE_SESSION_EVENT_DROPPED).
   * @default 10
   */
  maxAttempts?: number;
  /**
   * ms between two sweeps of the fleet (one watcher sweeps; the others skip it): a SCAN of every
   * session, adopting those the events do not know (sessions created before `events` was turned on,
   * or whose creation could not be recorded) so that their end is reported. 0: never.
   * @default 3600000 (an hour)
   */
  sweepInterval?: number;
  /**
   * How many due sessions one look at a shard checks at most (one pipelined PTTL each).
   * @default 200
   */
  batchSize?: number;
  /**
   * Told of every failure: a handler that threw (ERR_LIVE_SESSION_HANDLER, with the event), an
   * event given up (ERR_LIVE_SESSION_EVENT_DROPPED), Redis unreachable (ERR_LIVE_SESSION_REDIS,
   * ERR_LIVE_SESSION_TIMEOUT). The watcher goes on in every case.
   * @default logs with console.error
   */
  onError?: (err: LiveSessionError, event?: SessionEvent) => void;
}

export type ResolvedWatchOptions = Required<WatchOptions>;

type Check<T> = (value: unknown, name: string) => T;

const OPTIONS: { [K in keyof ResolvedWatchOptions]-?: { default: () => ResolvedWatchOptions[K]; check: Check<ResolvedWatchOptions[K]> } } = {
  consumer: { default: () => `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`, check: nonEmptyString },
  concurrency: { default: () => 10, check: wholeNumber(1) },
  claimAfter: { default: () => 30_000, check: wholeNumber(100) },
  maxAttempts: { default: () => 10, check: wholeNumber(1) },
  sweepInterval: { default: () => 3_600_000, check: wholeNumber(0) },
  batchSize: { default: () => 200, check: wholeNumber(1) },
  onError: { default: () => logError, check: isFunction },
};

export function resolveWatchOptions(given: unknown): ResolvedWatchOptions {
  if (given !== undefined && (typeof given !== 'object' || given === null)) throw invalid(`watchSessions options must be an object, got ${describe(given)}`);
  const options = (given ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(options)) {
    if (!Object.hasOwn(OPTIONS, name)) throw invalid(`watchSessions has no option "${name}"; options: ${Object.keys(OPTIONS).join(', ')}`);
  }
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(OPTIONS) as [string, { default: () => unknown; check: Check<unknown> }][]) {
    resolved[name] = options[name] === undefined ? spec.default() : spec.check(options[name], name);
  }
  return resolved as ResolvedWatchOptions;
}

function logError(err: LiveSessionError, event?: SessionEvent): void {
  console.error(`live-session events: ${err.message}${event ? ` (event ${event.id})` : ''}`);
}

function wholeNumber(min: number): Check<number> {
  return (value, name) => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw invalid(`watchSessions option "${name}" must be a whole number >= ${min}, got ${describe(value)}`);
    return value;
  };
}

function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid(`watchSessions option "${name}" must be a non-empty string, got ${describe(value)}`);
  return value;
}

function isFunction<F>(value: unknown, name: string): F {
  if (typeof value !== 'function') throw invalid(`watchSessions option "${name}" must be a function, got ${describe(value)}`);
  return value as F;
}

export function invalid(message: string): LiveSessionError {
  return new LiveSessionError('ERR_LIVE_SESSION_INVALID_ARGUMENT', message);
}

export function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value;
}
