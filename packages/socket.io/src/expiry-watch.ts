/**
 * ExpiryWatch: notices, within moments, that a session with sockets here has expired, without
 * Redis keyspace notifications (at-most-once, node-local on a Cluster, and late by seconds to
 * minutes under load).
 *
 * Every read or write of a session returns its TTL, and the TTL only moves when the session is
 * used, so this process knows when each of its sessions will expire unless something else uses
 * it. At that moment it asks Redis (PTTL, which unlike a read does not refresh the session): gone
 * means expired; still there means another server (or a job) used it, and the answer is the new
 * expiry to wait for. Cost per session per server: one PTTL each time its expiry comes due, so at
 * most one per lifetime while it is in use elsewhere, plus the last one that finds it gone.
 * Sessions that come due together are checked in one pipelined batch.
 */
import type { FollowedSession } from './followed-session';

/** Checked this long after the expiry Redis reported, so the key is past it. */
const MARGIN_MS = 10;
/** setTimeout's limit (about 24.8 days): a later expiry is checked then, and rescheduled. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** After a failed check (Redis unreachable), try again this much later. */
const RETRY_MS = 1000;

export interface ExpiryChecks {
  /** The expiry of each session (ms since the epoch), null when it no longer exists. */
  check(sids: readonly string[]): Promise<Map<string, number | null>>;
  /** The session is gone. */
  expired(session: FollowedSession): void;
  report(err: unknown): void;
}

export class ExpiryWatch {
  private readonly timers = new Map<FollowedSession, NodeJS.Timeout>();
  private readonly due = new Set<FollowedSession>();
  private flushScheduled = false;
  private closed = false;

  constructor(private readonly checks: ExpiryChecks) {}

  /** (Re)schedules the check of a session for its `expiresAt`. */
  watch(session: FollowedSession): void {
    this.unwatch(session);
    const at = session.expiresAt;
    if (this.closed || session.ended || at === null || !Number.isFinite(at)) return;
    this.schedule(session, at - Date.now() + MARGIN_MS);
  }

  unwatch(session: FollowedSession): void {
    const timer = this.timers.get(session);
    if (timer) clearTimeout(timer);
    this.timers.delete(session);
    this.due.delete(session);
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.due.clear();
  }

  private schedule(session: FollowedSession, delay: number): void {
    // unref: a pending check never keeps the process alive.
    const timer = setTimeout(() => this.fire(session), Math.min(Math.max(delay, 0), MAX_DELAY_MS)).unref();
    this.timers.set(session, timer);
  }

  private fire(session: FollowedSession): void {
    this.timers.delete(session);
    this.due.add(session);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flush()); // one batch for every session due in this turn
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = [...this.due].filter((session) => !session.ended);
    this.due.clear();
    if (batch.length === 0 || this.closed) return;
    let expiries: Map<string, number | null>;
    try {
      expiries = await this.checks.check(batch.map((session) => session.sid));
    } catch (err) {
      this.checks.report(err);
      for (const session of batch) if (!this.closed && !this.timers.has(session)) this.schedule(session, RETRY_MS);
      return;
    }
    for (const session of batch) {
      if (session.ended || this.timers.has(session)) continue; // ended, or rescheduled by a newer read meanwhile
      const expiresAt = expiries.get(session.sid);
      if (expiresAt === null || expiresAt === undefined) {
        this.checks.expired(session);
      } else {
        session.expiryMoved(expiresAt); // reported back through expiryKnown, which watches again
      }
    }
  }
}
