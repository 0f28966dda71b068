/**
 * SessionTracker: every session that has sockets in this process, each a FollowedSession, fed by
 * one subscriber connection, watched for expiry, read again after a reconnect. It knows nothing of
 * sockets: live-session.ts follows a session when its room is created and drops it when the room
 * is deleted, and hears from here when a session changed or ended.
 */
import createDebug from 'debug';
import { type DestroyReason, type LiveSessionStore, parseMessage } from '@live-session/core';
import { ExpiryWatch } from './expiry-watch';
import { FollowedSession, type FollowedSessionListener } from './followed-session';
import type { SessionChange } from './session-view';
import { ChannelSubscriber } from './subscriber';

const debug = createDebug('live-session:tracker');

/**
 * Socket activity refreshes a session at most once per this fraction of its refresh interval
 * (per session, per process): at most 10 refreshes per lifetime, however chatty the sockets.
 */
const ACTIVITY_REFRESH_FRACTION = 0.1;

export interface TrackerListener {
  changed(session: FollowedSession, change: SessionChange): void;
  ended(session: FollowedSession, reason: DestroyReason): void;
  error(err: unknown): void;
}

interface Tracked {
  session: FollowedSession;
  /** Settles once subscribed and read: 'failed' when Redis could not be read (the reload after reconnecting corrects it). */
  ready: Promise<'ok' | 'missing' | 'failed'>;
  /** Refreshes of the lifetime from socket activity (keepAlive), made at the first activity. */
  refresh?: Refresh;
}

interface Refresh {
  lastAt: number;
  /** undefined until the first answer; null when the cookie fixes the expiry. */
  interval: number | null | undefined;
  inFlight: boolean;
}

export class SessionTracker {
  private readonly tracked = new Map<string, Tracked>();
  private readonly subscriber: ChannelSubscriber;
  private readonly expiry: ExpiryWatch;
  private readonly sessionListener: FollowedSessionListener;

  constructor(
    private readonly store: LiveSessionStore,
    private readonly listener: TrackerListener,
  ) {
    this.subscriber = new ChannelSubscriber(store.redis, store.options.publish, {
      message: (channel, raw) => this.onMessage(channel, raw),
      resubscribed: (channels) => void this.reloadAll(channels),
    });
    this.expiry = new ExpiryWatch({
      check: (sids) => store.getExpiries(sids),
      expired: (session) => void session.expire().catch((err: unknown) => this.listener.error(err)),
      report: (err) => this.listener.error(err),
    });
    this.sessionListener = {
      changed: (session, change) => this.listener.changed(session, change),
      ended: (session, reason) => {
        this.expiry.unwatch(session);
        this.listener.ended(session, reason);
      },
      expiryKnown: (session) => this.expiry.watch(session),
    };
  }

  /** Starts following the session stored at `key` (its channel has the same name). */
  follow(key: string, sid: string): void {
    if (this.tracked.has(key)) return;
    const session = new FollowedSession(sid, key, this.store, this.sessionListener);
    // Subscribe first, then read: a change published in between is in both, told apart by version.
    const ready = this.subscriber.subscribe(key).then(() =>
      session.load().catch((err: unknown) => {
        debug('reading %s failed: %s', key, (err as Error).message);
        return 'failed' as const;
      }),
    );
    this.tracked.set(key, { session, ready });
  }

  unfollow(key: string): void {
    const tracked = this.tracked.get(key);
    if (!tracked) return;
    this.tracked.delete(key);
    this.expiry.unwatch(tracked.session);
    void this.subscriber.unsubscribe(key);
  }

  get(key: string): FollowedSession | undefined {
    return this.tracked.get(key)?.session;
  }

  ready(key: string): Promise<'ok' | 'missing' | 'failed'> | undefined {
    return this.tracked.get(key)?.ready;
  }

  /**
   * A client of the session did something: count it as use of the session (its lifetime moves as
   * an HTTP request would move it), at most once per ACTIVITY_REFRESH_FRACTION of the interval.
   * A session whose cookie fixes its expiry is never refreshed.
   */
  activity(key: string): void {
    const tracked = this.tracked.get(key);
    if (!tracked || tracked.session.ended) return;
    const { session } = tracked;
    const refresh = (tracked.refresh ??= { lastAt: 0, interval: undefined, inFlight: false });
    if (refresh.inFlight || refresh.interval === null) return;
    const now = Date.now();
    if (refresh.interval !== undefined && now - refresh.lastAt < refresh.interval * ACTIVITY_REFRESH_FRACTION) return;
    refresh.inFlight = true;
    refresh.lastAt = now;
    this.store
      .touchSession(session.sid)
      .then(
        (result) => {
          if (!result) return session.expire();
          refresh.interval = result.refreshInterval;
          session.expiryMoved(result.expiresAt);
        },
        (err: unknown) => this.listener.error(err),
      )
      .finally(() => (refresh.inFlight = false));
  }

  /** The channels this process is subscribed to. */
  get channels(): string[] {
    return this.subscriber.channels;
  }

  async close(): Promise<void> {
    this.expiry.close();
    this.tracked.clear();
    await this.subscriber.close();
  }

  private onMessage(channel: string, raw: string): void {
    const tracked = this.tracked.get(channel);
    if (!tracked) return;
    const message = parseMessage(raw);
    if (!message) {
      debug('dropped a malformed message on %s', channel);
      return;
    }
    try {
      tracked.session.receive(message, raw)?.catch((err: unknown) => this.listener.error(err));
    } catch (err) {
      this.listener.error(err); // applied at once, so a failure surfaces here: never into the subscriber
    }
  }

  /** After a reconnect (messages may have been lost): read every session followed here in one round trip. */
  private async reloadAll(channels: string[]): Promise<void> {
    const sessions = channels.map((channel) => this.tracked.get(channel)?.session).filter((session): session is FollowedSession => !!session);
    if (sessions.length === 0) return;
    try {
      const states = await this.store.getSessionStates(sessions.map((session) => session.sid));
      for (const session of sessions) session.reload(states.get(session.sid) ?? null).catch((err: unknown) => this.listener.error(err));
    } catch (err) {
      this.listener.error(err);
    }
  }
}
