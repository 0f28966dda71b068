/**
 * ExpiryWatch: notices, within moments, that a session followed here has expired, without
 * Redis keyspace notifications (at-most-once, node-local on a Cluster, and late by seconds to
 * minutes under load).
 *
 * Every read or write of a session returns its TTL, and the TTL only moves when the session is
 * used, so this process knows when each of its sessions will expire unless something else uses
 * it. At that moment it asks Redis (PTTL, which unlike a read does not refresh the session): gone
 * means expired; still there means another server (or a job) used it, and the answer is the new
 * expiry to wait for. Cost per session per server: one PTTL each time its expiry comes due, so at
 * most one per lifetime while it is in use elsewhere, plus the last one that finds it gone.
 * Sessions that come due together are checked in one pipelined batch. One timer serves them all
 * (set for the soonest check): a timer per session cost more heap than the rest of its state.
 */
import { DeadlineQueue } from './deadline-queue';
import type { FollowedSession } from './followed-session';

/** Checked this long after the expiry Redis reported, so the key is past it. */
const MARGIN_MS = 10;
/** setTimeout's limit (about 24.8 days): a later check wakes the timer then, and it is set again. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** After a failed check (Redis unreachable), try again this much later. */
const RETRY_MS = 1000;
/** Entries of unwatched or rescheduled sessions are dropped once they are this many more than the watched ones (and twice as many). */
const STALE_SLACK = 64;

export interface ExpiryChecks {
  /** The expiry of each session (ms since the epoch), null when it no longer exists. */
  check(sids: readonly string[]): Promise<Map<string, number | null>>;
  /** The session is gone. */
  expired(session: FollowedSession): void;
  report(err: unknown): void;
}

export class ExpiryWatch {
  /** When each watched session is checked next (ms since the epoch). */
  private readonly checkAt = new Map<FollowedSession, number>();
  /** The same checks, soonest first; an entry no longer in `checkAt` is skipped when it comes up. */
  private readonly queue = new DeadlineQueue<FollowedSession>();
  private timer: NodeJS.Timeout | undefined;
  /** The check the timer is set for. */
  private timerAt = Infinity;

  constructor(private readonly checks: ExpiryChecks) {}

  /**
   * (Re)schedules the check of a session for its `expiresAt`. A check already due earlier stays: it
   * finds the session alive and schedules the next one, one PTTL per lifetime instead of a move of
   * the queue on every write and refresh of a busy session.
   */
  watch(session: FollowedSession): void {
    const at = session.expiresAt;
    if (session.ended || at === null || !Number.isFinite(at)) {
      this.unwatch(session);
      return;
    }
    const scheduled = this.checkAt.get(session);
    if (scheduled !== undefined && scheduled <= at + MARGIN_MS) return;
    this.schedule(session, at + MARGIN_MS);
  }

  unwatch(session: FollowedSession): void {
    this.checkAt.delete(session);
  }

  /** Stops watching every session (in-flight checks find them unwatched). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
    this.checkAt.clear();
    this.queue.clear();
  }

  private schedule(session: FollowedSession, at: number): void {
    this.checkAt.set(session, at);
    this.queue.push(at, session);
    if (this.queue.size > 2 * this.checkAt.size + STALE_SLACK) this.queue.filter((due, queued) => this.checkAt.get(queued) === due);
    if (at < this.timerAt) this.setTimer(at);
  }

  private setTimer(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    // unref: a pending check never keeps the process alive.
    this.timer = setTimeout(() => this.fire(), Math.min(Math.max(at - Date.now(), 0), MAX_DELAY_MS)).unref();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    const batch: FollowedSession[] = [];
    while (this.queue.peek() <= now) {
      const at = this.queue.peek();
      const session = this.queue.pop();
      if (this.checkAt.get(session) !== at) continue; // unwatched, or rescheduled since
      this.checkAt.delete(session);
      if (!session.ended) batch.push(session);
    }
    if (this.queue.size > 0) this.setTimer(this.queue.peek());
    if (batch.length > 0) void this.check(batch); // one batch for every session due now
  }

  private async check(batch: FollowedSession[]): Promise<void> {
    let expiries: Map<string, number | null>;
    const startedAt = Date.now();
    try {
      expiries = await this.checks.check(batch.map((session) => session.sid));
    } catch (err) {
      this.checks.report(err);
      for (const session of batch) if (!session.ended && !this.checkAt.has(session)) this.schedule(session, Date.now() + RETRY_MS);
      return;
    }
    for (const session of batch) {
      if (session.ended || this.checkAt.has(session)) continue; // ended, or rescheduled by a newer read meanwhile
      const expiresAt = expiries.get(session.sid);
      if (expiresAt === null || expiresAt === undefined) {
        this.checks.expired(session);
      } else {
        session.expiryMoved(expiresAt, startedAt); // reported back through expiryKnown, which watches again
      }
    }
  }
}
