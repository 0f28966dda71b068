/**
 * FollowedSession: what this process knows of one session that has sockets here, kept true from
 * the session's change messages and from reads of Redis, one step at a time and in version order.
 *
 * Messages are hints, Redis is the truth. Pub/sub loses messages (a gap: read again) and anyone
 * allowed to PUBLISH on the channel can forge one, so:
 * - a change is applied only when it is exactly the next version; anything else is a reload;
 * - a second, different message for the version already applied means one of the two was forged:
 *   reload, so a forged message can never hide the real write that took its version;
 * - a destroy ends the session only once Redis confirms it is gone (a forged destroy cannot end a
 *   live session's view);
 * - a write through this process (adopt) and every read replace the view whatever it holds.
 * No timers and no transport here: the tracker (session-tracker.ts) feeds messages, asks for
 * expiry checks, and listens to what this reports.
 *
 * A message that needs no read (the next version, a replay, an old one) is applied as it arrives
 * when nothing else is in flight: no promise and no microtask per delivery, which is most of them.
 */
import type { DestroyReason, SessionMessage, SessionState } from '@live-session/core';
import { applyChange, diffViews, type SessionChange, type SessionView, viewOf } from './session-view';

/** What a followed session reads from the store. */
export interface SessionSource {
  getSessionState(sid: string): Promise<SessionState | null>;
  getExpiries(sids: readonly string[]): Promise<Map<string, number | null>>;
}

export interface FollowedSessionListener {
  /** The view moved to a new version (`change` is what differs). */
  changed(session: FollowedSession, change: SessionChange): void;
  /** The session ended; the view is empty from now on. Reported once. */
  ended(session: FollowedSession, reason: DestroyReason): void;
  /** What is known of the session's expiry changed (`expiresAt`). */
  expiryKnown(session: FollowedSession): void;
}

const EMPTY: SessionView = Object.freeze({});

export class FollowedSession {
  /** The version the view holds; -1 until the session was read. */
  version = -1;
  view: SessionView = EMPTY;
  /** When Redis drops the session unless it is used again (ms since the epoch), null when unknown or never. */
  expiresAt: number | null = null;
  /** Why the session ended, once it has. */
  endedBy: DestroyReason | null = null;
  /** The raw message that brought the current version; undefined when a read did. */
  private lastMessage: string | undefined;
  /** Reads and checks of this session in flight, one at a time and in order; undefined when idle. */
  private queue: Promise<void> | undefined;

  constructor(
    readonly sid: string,
    /** Its key in Redis, which is also its channel and its sockets' room. */
    readonly key: string,
    private readonly source: SessionSource,
    private readonly listener: FollowedSessionListener,
  ) {}

  get ended(): boolean {
    return this.endedBy !== null;
  }

  /**
   * The first read, after subscribing (a change published in between is both in the read and in a
   * message; its version tells them apart). 'missing': the store has no such session.
   */
  load(): Promise<'ok' | 'missing'> {
    return this.run(async () => {
      const state = await this.source.getSessionState(this.sid);
      if (!state) {
        this.endedBy = 'expired'; // never seen by a socket: nothing to report
        return 'missing';
      }
      this.applyState(state);
      return 'ok';
    });
  }

  /**
   * A message from the session's channel: parsed by the caller, raw kept to spot a forged twin.
   * Returns a promise only when the message waits behind, or starts, a read of Redis.
   */
  receive(message: SessionMessage, raw: string): Promise<void> | undefined {
    if (this.queue) return this.run(() => this.step(message, raw)?.());
    const read = this.step(message, raw);
    return read && this.run(read);
  }

  /** A state read or written through this process: the view becomes it (unless it is older). */
  adopt(state: SessionState): Promise<void> {
    return this.run(() => this.applyState(state));
  }

  /** Reads the session again (after a reconnect: `known` is what a batched read found). */
  reload(known?: SessionState | null): Promise<void> {
    return this.run(async () => {
      const state = known === undefined ? await this.source.getSessionState(this.sid) : known;
      if (state) this.applyState(state);
      else this.end('expired'); // gone while we were not listening: no destroy message came
    });
  }

  /** The expiry check found the session gone, or a write found it gone (ERR_LIVE_SESSION_NOT_FOUND). */
  expire(): Promise<void> {
    return this.run(() => this.end('expired'));
  }

  /** A refresh of the lifetime (socket activity) told where the expiry now is. */
  expiryMoved(expiresAt: number): void {
    if (this.ended) return;
    this.expiresAt = expiresAt;
    this.listener.expiryKnown(this);
  }

  /** Applies what a message can change by itself; returns the read it still needs, if any. */
  private step(message: SessionMessage, raw: string): (() => Promise<void>) | undefined {
    if (this.ended || message.version < this.version) return undefined;
    if (message.version === this.version) {
      // The message that brought this version again (a replay: nothing to do), or a different one
      // claiming the same version: one of them is forged, and only Redis can say which.
      return this.lastMessage !== undefined && raw !== this.lastMessage ? () => this.reloadNow() : undefined;
    }
    if (message.event === 'destroy') {
      const { reason } = message;
      return () => this.confirmEnd(reason);
    }
    if (message.event === 'change' && message.version === this.version + 1) {
      this.version = message.version;
      this.view = applyChange(this.view, message);
      this.lastMessage = raw;
      this.listener.changed(this, { version: message.version, set: message.set, unset: message.unset });
      return undefined;
    }
    // A gap (a message was missed), or a message that carries no values (`reload`): read it all.
    return () => this.reloadNow();
  }

  /** A destroy message ends the view only if Redis agrees the session is gone. */
  private async confirmEnd(reason: DestroyReason): Promise<void> {
    const expiry = (await this.source.getExpiries([this.sid])).get(this.sid);
    if (expiry === null || expiry === undefined) this.end(reason);
    else await this.reloadNow(); // still there: the destroy was not real
  }

  private async reloadNow(): Promise<void> {
    const state = await this.source.getSessionState(this.sid);
    if (state) this.applyState(state);
    else this.end('expired');
  }

  /** A read is the truth at its version: the view becomes it, whatever messages said before. */
  private applyState(state: SessionState): void {
    if (this.ended || state.version < this.version) return; // a newer write through this process came first
    this.expiresAt = state.expiresAt;
    this.listener.expiryKnown(this);
    const view = viewOf(state.session);
    const change = diffViews(this.view, view, state.version);
    const first = this.version < 0;
    this.version = state.version;
    this.view = view;
    this.lastMessage = undefined;
    if (!first && (change.unset.length > 0 || Object.keys(change.set).length > 0)) this.listener.changed(this, change);
  }

  private end(reason: DestroyReason): void {
    if (this.ended) return;
    this.endedBy = reason;
    this.view = EMPTY;
    this.expiresAt = null;
    this.listener.ended(this, reason);
  }

  private run<T>(task: () => T | Promise<T>): Promise<T> {
    const result = (this.queue ?? Promise.resolve()).then(task);
    const settled = (): void => {
      if (this.queue === tail) this.queue = undefined; // idle again: the next message is applied at once
    };
    const tail: Promise<void> = result.then(settled, settled);
    this.queue = tail;
    return result;
  }
}
