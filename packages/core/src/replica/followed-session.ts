/**
 * FollowedSession: what this process knows of one session it follows, kept true from the
 * session's change messages and from reads of Redis, one step at a time and in version order.
 *
 * Messages are hints, Redis is the truth. Pub/sub loses messages (a gap: read again) and anyone
 * allowed to PUBLISH on the channel can forge one, so:
 * - a change is applied only when it is exactly the next version; anything else is a reload;
 * - a second, different message for the version already applied means one of the two was forged:
 *   reload, so a forged message can never hide the real write that took its version;
 * - a destroy ends the session only once Redis confirms it is gone (a forged destroy cannot end a
 *   live session's view);
 * - a write through this process (adopt) and every read replace the view whatever it holds.
 * Every change of the data or of the cookie moves the version (lua/write.lua): a version names
 * one exact state of everything a read returns, which is what lets the store serve reads from here.
 * No timers and no transport here: the replica (replica.ts) feeds messages, asks for expiry
 * checks, and listens to what this reports.
 *
 * A message that needs no read (the next version, a replay, an old one) is applied as it arrives
 * when nothing else is in flight: no promise and no microtask per delivery, which is most of them.
 */
import { decodeCookie, expandCookie } from '../cookie';
import { COOKIE_FIELD, fieldOf, type LoadedSession, type SessionRecord } from '../fields';
import type { DestroyReason, SessionMessage } from '../message';
import { applyChange, diffViews, EMPTY_VIEW, type SessionChange, type SessionView, viewOf } from './session-view';

/** What a followed session reads from Redis. */
export interface SessionSource {
  /** The session as Redis holds it (without refreshing its lifetime), or null when it is gone. */
  read(sid: string): Promise<LoadedSession | null>;
  /** When each session expires (ms since the epoch; Infinity without a TTL), null when gone. */
  expiries(sids: readonly string[]): Promise<Map<string, number | null>>;
}

export interface FollowedSessionListener {
  /** The view moved to a new version (`change` is what differs). */
  changed(session: FollowedSession, change: SessionChange): void;
  /** The session ended; the view is empty from now on. Reported once. */
  ended(session: FollowedSession, reason: DestroyReason): void;
  /** What is known of the session's expiry changed (`expiresAt`). */
  expiryKnown(session: FollowedSession): void;
}

export class FollowedSession {
  /** The version the view holds; -1 until the session was read. */
  version = -1;
  view: SessionView = EMPTY_VIEW;
  /**
   * The earliest Redis may drop the session unless it is used again (ms since the epoch; Infinity
   * for no TTL), null when unknown. Other servers only ever move it later without telling: a lower bound.
   */
  expiresAt: number | null = null;
  /** When Redis last said the session exists (a read, a write, a refresh; ms since the epoch). */
  confirmedAt = 0;
  /** Why the session ended, once it has. */
  endedBy: DestroyReason | null = null;
  /** The rest of what a read returns, as of the version: creation time, stored cookie, `$t`. */
  private createdAt = 0;
  private cookie: string | undefined;
  /** The stored cookie parsed once (its compact form; undefined for one stored as it is, parsed per read). */
  private compactCookie: Record<string, unknown> | undefined;
  private refresh: number | null = null;
  /** JSON text of the view, made on first use per version: what the store's cache parses per read. */
  private text: string | undefined;
  /** The stored strings of the version, made on first use (a save compares with them; never changed). */
  private fields: Map<string, string> | undefined;
  /** The raw message that brought the current version; undefined when a read did. */
  private lastMessage: string | undefined;
  /** Reads and checks of this session in flight, one at a time and in order; undefined when idle. */
  private queue: Promise<void> | undefined;

  constructor(
    readonly sid: string,
    /** Its key in Redis, which is also its channel. */
    readonly key: string,
    private readonly source: SessionSource,
    private readonly listener: FollowedSessionListener,
  ) {}

  get ended(): boolean {
    return this.endedBy !== null;
  }

  /** Nothing in flight: the view holds everything this process has received. */
  get idle(): boolean {
    return this.queue === undefined;
  }

  /** Resolves once nothing is in flight (reads started by messages, confirmations). */
  settled(): Promise<void> {
    return this.queue ?? Promise.resolve();
  }

  /**
   * The first read, after subscribing (a change published in between is both in the read and in a
   * message; its version tells them apart). 'missing': Redis has no such session.
   */
  load(): Promise<'ok' | 'missing'> {
    return this.run(async () => {
      const startedAt = Date.now();
      const loaded = await this.source.read(this.sid);
      if (!loaded) {
        this.endedBy = 'expired'; // never seen by a follower: nothing to report
        return 'missing';
      }
      this.applyLoaded(loaded, startedAt);
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

  /** A session read or written through this process: the view becomes it (unless it is older). */
  adopt(loaded: LoadedSession, startedAt = Date.now()): Promise<void> {
    return this.run(() => this.applyLoaded(loaded, startedAt));
  }

  /** Reads the session again (after a reconnect: `known` is what a batched read found, read from `startedAt`). */
  reload(known?: LoadedSession | null, startedAt = Date.now()): Promise<void> {
    return this.run(async () => {
      const loaded = known === undefined ? await this.source.read(this.sid) : known;
      if (loaded) this.applyLoaded(loaded, startedAt);
      else this.end('expired'); // gone while we were not listening: no destroy message came
    });
  }

  /** The session is gone without a destroy message: its expiry passed, or a write or refresh found no session. */
  expire(): Promise<void> {
    return this.run(() => this.end('expired'));
  }

  /** A refresh or a check told where the expiry now is; Redis said so no earlier than `confirmedAt` (when it was asked). */
  expiryMoved(expiresAt: number, confirmedAt: number): void {
    if (this.ended) return;
    this.expiresAt = expiresAt;
    if (confirmedAt > this.confirmedAt) this.confirmedAt = confirmedAt;
    this.listener.expiryKnown(this);
  }

  /** How far a read pushes the expiry (ms, `$t`), or null when the cookie fixes it. */
  get refreshInterval(): number | null {
    return this.refresh;
  }

  /**
   * The session as a read returns it, as of the current version: fresh objects each call (the
   * caller may change them), the cookie showing the expiry `cookieExpiresAt`. Only for a loaded,
   * live session.
   */
  snapshot(cookieExpiresAt: number | null): LoadedSession {
    const text = (this.text ??= JSON.stringify(this.view));
    const data = JSON.parse(text) as SessionRecord;
    const stored = this.cookie;
    const compact = this.compactCookie;
    const cookie = stored === undefined ? undefined : compact !== undefined ? expandCookie(compact, cookieExpiresAt) : decodeCookie(stored, cookieExpiresAt);
    if (cookie !== undefined) data[COOKIE_FIELD] = cookie;
    const view = this.view;
    return {
      sid: this.sid,
      data,
      cookie,
      version: this.version,
      createdAt: this.createdAt,
      expiresAt: this.expiresAt === Number.POSITIVE_INFINITY ? null : this.expiresAt,
      refreshInterval: this.refresh,
      // The stored strings, encoded again from the view (only a save needs them), once per version.
      storedFields: () => (view === this.view ? (this.fields ??= storedFieldsOf(view, stored)) : storedFieldsOf(view, stored)),
    };
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
      this.text = this.fields = undefined;
      this.lastMessage = raw;
      this.listener.changed(this, { version: message.version, set: message.set, unset: message.unset });
      return undefined;
    }
    // A gap (a message was missed), or a message that carries no values (`reload`): read it all.
    return () => this.reloadNow();
  }

  /** A destroy message ends the view only if Redis agrees the session is gone. */
  private async confirmEnd(reason: DestroyReason): Promise<void> {
    const expiry = (await this.source.expiries([this.sid])).get(this.sid);
    if (expiry === null || expiry === undefined) this.end(reason);
    else await this.reloadNow(); // still there: the destroy was not real
  }

  private async reloadNow(): Promise<void> {
    const startedAt = Date.now();
    const loaded = await this.source.read(this.sid);
    if (loaded) this.applyLoaded(loaded, startedAt);
    else this.end('expired');
  }

  /** A read is the truth at its version: the state becomes it, whatever messages said before. */
  private applyLoaded(loaded: LoadedSession, startedAt: number): void {
    if (this.ended || loaded.version < this.version) return; // a newer write through this process came first
    this.expiresAt = loaded.expiresAt ?? Number.POSITIVE_INFINITY;
    if (startedAt > this.confirmedAt) this.confirmedAt = startedAt;
    this.createdAt = loaded.createdAt;
    this.cookie = loaded.storedFields().get(COOKIE_FIELD);
    this.compactCookie = compactOf(this.cookie);
    if (loaded.refreshInterval !== undefined) this.refresh = loaded.refreshInterval;
    this.listener.expiryKnown(this);
    const view = viewOf(loaded.data);
    const change = diffViews(this.view, view, loaded.version);
    const first = this.version < 0;
    this.version = loaded.version;
    this.view = view;
    this.text = this.fields = undefined;
    this.lastMessage = undefined;
    if (!first && (change.unset.length > 0 || Object.keys(change.set).length > 0)) this.listener.changed(this, change);
  }

  private end(reason: DestroyReason): void {
    if (this.ended) return;
    this.endedBy = reason;
    this.view = EMPTY_VIEW;
    this.text = this.fields = undefined;
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

/** A stored cookie's compact form, parsed; undefined for one stored as it is (`{"*": ...}`: expanding it would share the object). */
function compactOf(stored: string | undefined): Record<string, unknown> | undefined {
  if (stored === undefined) return undefined;
  const compact = JSON.parse(stored) as Record<string, unknown>;
  return typeof compact === 'object' && compact !== null && !('*' in compact) ? compact : undefined;
}

/** The stored strings of a view (and its stored cookie), as the store writes them. */
function storedFieldsOf(view: SessionView, cookie: string | undefined): Map<string, string> {
  const fields = new Map<string, string>();
  for (const key of Object.keys(view)) fields.set(fieldOf(key), JSON.stringify(view[key]));
  if (cookie !== undefined) fields.set(COOKIE_FIELD, cookie);
  return fields;
}
