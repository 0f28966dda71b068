/**
 * How change messages travel: ONE subscriber connection per replica (a duplicate of the store's
 * client, ioredis or node-redis alike, through the seam in ../redis), subscribed to exactly the
 * channels of the sessions this process follows. What a message means is followed-session.ts's
 * business (through replica.ts), not this module's.
 */
import createDebug from 'debug';
import type { RedisConnection, SubscriberConnection } from '../redis';

const debug = createDebug('live-session:subscriber');

export interface ChannelEvents {
  /** A message arrived on a channel. */
  message(channel: string, message: string): void;
  /** The connection dropped: messages may be lost from now until `resubscribed`. */
  lost(): void;
  /** The connection came back and every wanted channel is subscribed again: whatever was published meanwhile is lost. */
  resubscribed(channels: string[]): void;
}

export class ChannelSubscriber {
  private readonly connection: SubscriberConnection;
  /** Channels that should be subscribed (the followers decide). */
  private readonly wanted = new Set<string>();
  /** Channels Redis has confirmed. */
  private readonly active = new Set<string>();
  /** One operation at a time per channel, so a quick leave-then-join cannot end unsubscribed. */
  private readonly pending = new Map<string, Promise<void>>();
  private connectedOnce = false;
  private closed = false;

  constructor(redis: RedisConnection, mode: 'publish' | 'spublish', private readonly events: ChannelEvents) {
    this.connection = redis.subscriber(mode === 'spublish', {
      message: (channel, message) => {
        if (this.active.has(channel)) this.events.message(channel, message);
      },
      ready: (kept) => this.onReady(kept),
      lost: () => {
        if (!this.closed) this.events.lost();
      },
      // A Cluster's subscriptions followed a failover to other nodes: messages published in
      // between are lost, so those sessions must be read again.
      moved: () => {
        if (!this.closed && this.active.size > 0) this.events.resubscribed([...this.active]);
      },
    });
  }

  /** Whether a PING on this connection orders it after the messages queued before (not on a Cluster: see ../redis). */
  get canPing(): boolean {
    return this.connection.ping !== undefined;
  }

  /** PING on the subscriber connection: resolves after every message Redis queued to it before reading it. */
  ping(): Promise<void> {
    return this.connection.ping!();
  }

  /** Wants `channel` subscribed; resolves once Redis confirmed (or it is no longer wanted). */
  subscribe(channel: string): Promise<void> {
    this.wanted.add(channel);
    return this.sync(channel);
  }

  /** No longer wants `channel`. */
  unsubscribe(channel: string): Promise<void> {
    this.wanted.delete(channel);
    return this.sync(channel);
  }

  /** Whether Redis has confirmed `channel`. */
  has(channel: string): boolean {
    return this.active.has(channel);
  }

  /** The channels Redis has confirmed (for tests and metrics). */
  get channels(): string[] {
    return [...this.active];
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wanted.clear();
    this.active.clear();
    await Promise.allSettled(this.pending.values());
    await this.connection.close();
  }

  private sync(channel: string): Promise<void> {
    const previous = this.pending.get(channel) ?? Promise.resolve();
    const next = previous.then(() => this.reconcile(channel));
    this.pending.set(channel, next);
    void next.finally(() => {
      if (this.pending.get(channel) === next) this.pending.delete(channel);
    });
    return next;
  }

  private async reconcile(channel: string): Promise<void> {
    if (this.closed) return;
    const want = this.wanted.has(channel);
    if (want === this.active.has(channel)) return;
    try {
      if (want) {
        await this.connection.subscribe(channel);
        this.active.add(channel);
      } else {
        this.active.delete(channel);
        await this.connection.unsubscribe(channel);
      }
    } catch (err) {
      // Redis is unreachable: the resubscription after reconnecting takes care of `wanted`.
      debug('%s %s failed: %s', want ? 'subscribe' : 'unsubscribe', channel, (err as Error).message);
    }
  }

  /**
   * On every (re)connection: subscribe to each wanted channel Redis does not have (all of them
   * after an ioredis reconnect, since a new connection has none; node-redis resubscribed those it
   * had, `kept`; those that failed before the first connection, e.g. with the offline queue off),
   * then report them all: their messages may have been lost.
   */
  private onReady(kept: boolean): void {
    const reconnected = this.connectedOnce;
    this.connectedOnce = true;
    if (reconnected && !kept) this.active.clear();
    const resubscribed = reconnected ? [...this.active] : [];
    const missing = [...this.wanted].filter((channel) => !this.active.has(channel));
    if (!reconnected && missing.length === 0) return;
    debug('(re)connected: subscribing %d channels, %d kept', missing.length, resubscribed.length);
    void Promise.all(missing.map((channel) => this.sync(channel))).then(() => {
      if (!this.closed) this.events.resubscribed([...resubscribed, ...missing.filter((channel) => this.active.has(channel))]);
    });
  }
}
