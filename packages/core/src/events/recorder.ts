/**
 * The store's side of the session events (the `events` option): after a session script changed a
 * session, one command to the session's events shard records what happened (lua/events/record.lua).
 * A session key and a shard key are in different Cluster slots, so no script can do both: the
 * record follows the change, from the server that made it. A record that fails (the shard's node is
 * unreachable) is retried in the background for about a minute; the store call that made the change
 * does not fail for it (the change is done). Every operation may be applied twice without reporting
 * anything twice (a retry after a timeout), see lua/events/record.lua. A destroy also leaves the
 * session's tombstone, in the destroy script itself (src/events/tombstone.ts): a watcher that finds
 * the session gone before the record reached the shard reads there what ended it.
 */
import type { DestroyReason } from '../message';
import type { ResolvedOptions } from '../options';
import type { RedisConnection } from '../redis';
import { encodeInfo, encodeOwner, type SessionEventType } from './event';
import { EVENT_SCRIPTS } from './scripts';
import { EventShards } from './shards';
import { tombstoneOf } from './tombstone';

/** A stream holds about this many events per shard at most: past it (no watcher for a long time), the oldest are dropped. */
export const MAX_BACKLOG = 1_000_000;
/** A session that changed hands is looked at this soon (its expiry is capped while its owner's index is updated). */
export const OWNER_CHECK_MS = 1000;
/** Background retries of a failed record: after 0.5, 1, 2 ... 32 s (about a minute in all). */
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 16_000, 32_000];
/** Session ids per record command (a destroy of many sessions, clear). */
const CHUNK = 1000;
/** A tombstone outlives the session's expiry by the record's retries and this much more: time for a watcher to check the due entry. */
const TOMBSTONE_CHECK_MS = 5 * 60 * 1000;

type Call = <T>(what: string, operation: () => Promise<T>) => Promise<T>;

/** What a write did, as the store knows it after lua/write.lua answered. */
export interface WrittenSession {
  /** The write found no session and created it. */
  created: boolean;
  /** The write's clock: the session's creation time when it created it (ms). */
  now: number;
  /** The expiry it set (ms), or null when it kept the stored refresh interval (which only moves it later). */
  expiresAt: number | null;
  /** It may have moved the expiry back (the cookie changed, or the whole session was replaced). */
  movedBack: boolean;
  /** It changed the session's owner (the `userOf` option): the new one ('' for no one) and the `describe` JSON. */
  owner?: { user: string; info: () => string };
}

export class EventRecorder {
  readonly shards: EventShards;
  private readonly publish: string;
  /** How long (ms) a tombstone outlives the session's expiry: the record's retries, each with its timeout, and a watcher's check. */
  private readonly tombstoneGrace: number;

  constructor(
    private readonly redis: RedisConnection,
    options: Readonly<ResolvedOptions>,
    private readonly call: Call,
  ) {
    this.shards = new EventShards(options.eventsPrefix, options.eventShards);
    this.publish = options.publish;
    const retries = RETRY_DELAYS_MS.reduce((sum, delay) => sum + delay, 0);
    this.tombstoneGrace = retries + (RETRY_DELAYS_MS.length + 1) * options.timeout + TOMBSTONE_CHECK_MS;
    // Up front: an ioredis auto-pipeline copies the client's scripts when it is made.
    redis.define(Object.values(EVENT_SCRIPTS));
  }

  /** After a write: at most one command, and none for a write that neither created the session, moved its expiry back nor changed its owner. */
  written(sid: string, write: WrittenSession): Promise<void> {
    const { created, now, expiresAt, movedBack, owner } = write;
    const owned = owner && owner.user !== '' ? { user: owner.user, info: owner.info() } : null;
    if (created) {
      // Looked at by its expiry, or soon when its owner's index caps the expiry meanwhile.
      const score = Math.min(expiresAt ?? now, owned ? now + OWNER_CHECK_MS : Infinity);
      return this.record(sid, ['created', now, sid, score, encodeInfo(now, owned)]);
    }
    if (owner) return this.record(sid, ['owner', now, sid, now + OWNER_CHECK_MS, encodeOwner(owned)]);
    if (movedBack && expiresAt !== null) return this.movedBack(sid, expiresAt);
    return Promise.resolve();
  }

  /** A touch moved the expiry back to `expiresAt`. */
  movedBack(sid: string, expiresAt: number): Promise<void> {
    return this.record(sid, ['expiry', Date.now(), sid, expiresAt]);
  }

  /**
   * The destroy script's arguments after the publish command and the reason (lua/destroy.lua): the
   * owner check ('' without a user index), then the session's tombstone, what and when (`at`: the
   * time `ended` then records), and how long it outlives the session.
   */
  destroyArgs(key: string, reason: DestroyReason, at: number, owner = ''): (string | number)[] {
    return [owner, tombstoneOf(key), `${kindOf(reason)}:${at}`, this.tombstoneGrace];
  }

  /** After destroys: the sessions among `sids` that a destroy script deleted, at `at` (the time given to destroyArgs). */
  async ended(sids: readonly string[], reason: DestroyReason, at = Date.now()): Promise<void> {
    if (sids.length === 0) return;
    const kind = kindOf(reason);
    const sends: Promise<void>[] = [];
    for (const [shard, list] of this.shards.group(sids)) {
      for (let i = 0; i < list.length; i += CHUNK) sends.push(this.send(shard, ['ended', at, kind, ...list.slice(i, i + CHUNK)]));
    }
    await Promise.all(sends);
  }

  private record(sid: string, args: (string | number)[]): Promise<void> {
    return this.send(this.shards.of(sid), args);
  }

  private send(shard: number, [op, ...rest]: (string | number)[]): Promise<void> {
    const key = this.shards.due(shard);
    const args = [op, this.publish, MAX_BACKLOG, ...rest];
    const attempt = () => this.call('events', () => this.redis.script(EVENT_SCRIPTS.record, key, args));
    return attempt().then(
      () => undefined,
      (err: unknown) => retry(attempt, err, 0),
    );
  }
}

function kindOf(reason: DestroyReason): SessionEventType {
  return reason === 'logout' ? 'destroyed' : reason;
}

/** Tries again in the background; the caller goes on. */
function retry(attempt: () => Promise<unknown>, err: unknown, n: number): void {
  if (n >= RETRY_DELAYS_MS.length) {
    process.emitWarning(`live-session: a session event could not be recorded (${(err as Error).message}); the sweep of watchSessions adopts the session again`, 'LiveSessionWarning');
    return;
  }
  setTimeout(() => {
    attempt().catch((next: unknown) => retry(attempt, next, n + 1));
  }, RETRY_DELAYS_MS[n]).unref();
}
