/**
 * How change messages travel: ONE subscriber connection per LiveSession (a duplicate of the
 * store's client), subscribed to exactly the channels of the sessions that have sockets here.
 * What a message means is live-session.ts's business, not this module's.
 */
import createDebug from 'debug';
import type { RedisClient } from '@live-session/core';
import type { Cluster, Redis } from 'ioredis';

const debug = createDebug('live-session:subscriber');

export interface SubscriberEvents {
  /** A message arrived on a channel. */
  message(channel: string, message: string): void;
  /** The connection came back and every wanted channel is subscribed again: whatever was published meanwhile is lost. */
  resubscribed(channels: string[]): void;
}

export class ChannelSubscriber {
  private readonly connection: Redis | Cluster;
  private readonly sharded: boolean;
  /** Channels that should be subscribed (the room lifecycle decides). */
  private readonly wanted = new Set<string>();
  /** Channels Redis has confirmed. */
  private readonly active = new Set<string>();
  /** One operation at a time per channel, so a quick leave-then-join cannot end unsubscribed. */
  private readonly pending = new Map<string, Promise<void>>();
  private connectedOnce = false;
  private closed = false;

  constructor(client: RedisClient, mode: 'publish' | 'spublish', private readonly events: SubscriberEvents) {
    this.sharded = mode === 'spublish';
    // autoResubscribe off: this class resubscribes itself, so it knows when that is done.
    this.connection = client.isCluster
      ? (client as Cluster).duplicate([], { shardedSubscribers: this.sharded, redisOptions: { ...(client as Cluster).options.redisOptions, autoResubscribe: false } })
      : (client as Redis).duplicate({ autoResubscribe: false });
    this.connection.on(this.sharded ? 'smessage' : 'message', (channel: string, message: string) => {
      if (this.active.has(channel)) this.events.message(channel, message);
    });
    this.connection.on('error', (err: Error) => debug('subscriber connection error: %s', err.message));
    this.connection.on('ready', () => this.onReady());
    // A Cluster's sharded subscribers follow slot moves (a failover) and subscribe again by
    // themselves; messages published in between are lost, so those sessions must be read again.
    if (client.isCluster && this.sharded) {
      this.connection.on('subscribersReady', () => {
        if (!this.closed && this.active.size > 0) this.events.resubscribed([...this.active]);
      });
    }
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

  /** The channels Redis has confirmed (for tests and metrics). */
  get channels(): string[] {
    return [...this.active];
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wanted.clear();
    this.active.clear();
    await Promise.allSettled(this.pending.values());
    this.connection.disconnect();
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
        await (this.sharded ? this.connection.ssubscribe(channel) : this.connection.subscribe(channel));
        this.active.add(channel);
      } else {
        this.active.delete(channel);
        await (this.sharded ? this.connection.sunsubscribe(channel) : this.connection.unsubscribe(channel));
      }
    } catch (err) {
      // Redis is unreachable: the resubscription after reconnecting takes care of `wanted`.
      debug('%s %s failed: %s', want ? 'subscribe' : 'unsubscribe', channel, (err as Error).message);
    }
  }

  /**
   * On every (re)connection: subscribe to each wanted channel Redis does not have (all of them
   * after a reconnect, since a new connection has none; those that failed before the first one,
   * e.g. with `enableOfflineQueue: false`), then report them: their messages may have been lost.
   */
  private onReady(): void {
    if (this.connectedOnce) this.active.clear();
    this.connectedOnce = true;
    const missing = [...this.wanted].filter((channel) => !this.active.has(channel));
    if (missing.length === 0) return;
    debug('(re)connected: subscribing %d channels', missing.length);
    void Promise.all(missing.map((channel) => this.sync(channel))).then(() => {
      if (!this.closed) this.events.resubscribed(missing.filter((channel) => this.active.has(channel)));
    });
  }
}
