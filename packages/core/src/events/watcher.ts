/**
 * watchSessions: the app's side of the session events. Every app server may run one; together
 * they form one consumer group per shard, so each event is handled by one of them (see the README,
 * "Session events"). This module wires the parts: a ShardPump per shard (looks, due checks), one
 * Delivery (handlers, acknowledgements), the shards' wake channels (on the store's one subscriber
 * connection: its replica's), the sweep.
 */
import { Deadlines } from '../deadline';
import { LiveSessionError } from '../errors';
import type { ResolvedOptions } from '../options';
import type { RedisConnection } from '../redis';
import type { SessionReplica } from '../replica';
import { Delivery } from './delivery';
import { EVENT_TYPES, type SessionEventHandlers } from './event';
import { MAX_BACKLOG } from './recorder';
import { EVENT_SCRIPTS } from './scripts';
import { GROUP, ShardPump } from './shard-pump';
import { EventShards } from './shards';
import { lockSweep, sweep, type SweepContext } from './sweep';
import { describe, invalid, resolveWatchOptions, type ResolvedWatchOptions, type WatchOptions } from './watch-options';

/** What a watcher needs of the store (a LiveSessionStore created with `events: true`). */
export interface EventSource {
  readonly redis: RedisConnection;
  readonly options: Readonly<ResolvedOptions>;
  /** Carries the wake channels: the process's one subscriber connection. */
  readonly replica: SessionReplica;
  keyOf(sid: string): string;
}

/** The first sweep waits up to this long (random), so that a fleet starting together does not race for the lock. */
const FIRST_SWEEP_MS = 5000;

/**
 * Hands every session event of the store to `handlers`, each event to one watcher of the fleet.
 * Throws ERR_LIVE_SESSION_INVALID_ARGUMENT for a store without `events: true`, a handler that is
 * not a function, or a bad option. Close it (`await watcher.close()`) before closing the client.
 */
export function watchSessions(store: EventSource, handlers: SessionEventHandlers, options?: WatchOptions): SessionWatcher {
  if (typeof store !== 'object' || store === null || typeof store.keyOf !== 'function' || !store.options || !store.redis) {
    throw invalid(`watchSessions(store, handlers) needs a LiveSessionStore, got ${describe(store)}`);
  }
  if (store.options.events !== true) throw invalid('watchSessions needs a store created with the option "events: true" (which records what it watches)');
  if (typeof handlers !== 'object' || handlers === null) throw invalid(`watchSessions(store, handlers): handlers must be an object such as { expired: (event) => ... }, got ${describe(handlers)}`);
  for (const [name, handler] of Object.entries(handlers)) {
    if (!(EVENT_TYPES as readonly string[]).includes(name)) throw invalid(`watchSessions has no event "${name}"; events: ${EVENT_TYPES.join(', ')}`);
    if (handler !== undefined && typeof handler !== 'function') throw invalid(`the "${name}" handler of watchSessions must be a function, got ${describe(handler)}`);
  }
  return new SessionWatcher(store, handlers, resolveWatchOptions(options));
}

export class SessionWatcher {
  /** This watcher's name in the consumer groups. */
  readonly consumer: string;
  private readonly options: ResolvedWatchOptions;
  private readonly shards: EventShards;
  private readonly deadlines: Deadlines;
  private readonly delivery: Delivery;
  private readonly pumps: ShardPump[];
  /** Ends the watcher's use of the store's subscriber connection. */
  private readonly unlisten: () => void;
  private readonly sweepContext: SweepContext;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  /** Use watchSessions(), which checks its arguments. */
  constructor(
    store: EventSource,
    handlers: SessionEventHandlers,
    options: ResolvedWatchOptions,
  ) {
    this.options = options;
    this.consumer = options.consumer;
    const { redis } = store;
    redis.define(Object.values(EVENT_SCRIPTS)); // (the store did, with `events`; as it must be before any auto-pipeline)
    const { eventsPrefix, eventShards, publish, timeout, lifetime, prefix, scanCount } = store.options;
    this.shards = new EventShards(eventsPrefix, eventShards);
    this.deadlines = new Deadlines(timeout, {
      timedOut: (what) => new LiveSessionError('ERR_LIVE_SESSION_TIMEOUT', `Redis did not answer "${what}" within ${timeout} ms (the store's option "timeout"); the watcher tries again`),
      failed: (what, err) => (err instanceof LiveSessionError ? err : new LiveSessionError('ERR_LIVE_SESSION_REDIS', `Redis failed "${what}": ${err instanceof Error ? err.message : String(err)}; the watcher tries again`, { cause: err })),
    });
    const call = <T>(what: string, operation: () => Promise<T>): Promise<T> => {
      let pending: Promise<T>;
      try {
        pending = operation();
      } catch (err) {
        pending = Promise.reject(err);
      }
      return this.deadlines.run(what, pending);
    };
    const stream = (shard: number) => this.shards.stream(shard);
    this.delivery = new Delivery(handlers, options, {
      ack: async (shard, ids) => void (await call('events', () => redis.script(EVENT_SCRIPTS.ack, this.shards.due(shard), [GROUP, ...ids]))),
      keep: async (shard, ids) => void (await call('events', () => redis.command(stream(shard), ['XCLAIM', stream(shard), GROUP, this.consumer, 0, ...ids, 'JUSTID']))),
      // Idle for claimAfter already: the next look of any watcher takes them.
      release: async (shard, ids) =>
        void (await call('events', () => redis.command(stream(shard), ['XCLAIM', stream(shard), GROUP, this.consumer, 0, ...ids, 'IDLE', options.claimAfter, 'JUSTID']))),
      report: (err, event) => this.report(err, event),
      roomFreed: () => {
        for (const pump of this.pumps) pump.roomFreed();
      },
    });
    const context = {
      redis,
      shards: this.shards,
      options,
      delivery: this.delivery,
      call,
      keyOf: (sid: string) => store.keyOf(sid),
      publish,
      lifetime,
      // A claim on due entries outlives any check; past it (the watcher died), they come due again.
      leaseMs: Math.max(10_000, 5 * timeout),
      report: (err: unknown) => this.report(err),
    };
    this.pumps = this.shards.all().map((shard) => new ShardPump(shard, context));
    this.sweepContext = { redis, shards: this.shards, call, prefix, scanCount, publish, maxBacklog: MAX_BACKLOG };

    // Wake messages: a look at once instead of at the next due entry. Lost ones (a reconnection, a
    // failover) cost a look at every shard. Subscribed once connected (node-redis refuses before),
    // again after each reconnection that lost them (ioredis), then a look at every shard: what was
    // recorded meanwhile is seen too.
    const detach = store.replica.attach();
    const listens = this.shards.all().map((shard) =>
      store.replica.listen(this.shards.wake(shard), { message: () => this.pumps[shard].wake(), resubscribed: () => this.wakeAll() }),
    );
    // Once subscribed (the replica subscribes again after each reconnection, and says so): a look
    // at every shard, so what was recorded meanwhile is seen too.
    void Promise.all(listens.map((listen) => listen.ready)).then(() => this.wakeAll());
    this.unlisten = () => {
      for (const listen of listens) listen.release();
      detach();
    };
    for (const pump of this.pumps) pump.start();
    if (options.sweepInterval > 0) this.scheduleSweep(Math.random() * FIRST_SWEEP_MS);
  }

  /**
   * Sweeps now (whatever the lock says): adopts every session the events do not know. Resolves to
   * how many were adopted. The watcher also does it by itself, once per `sweepInterval` for the fleet.
   */
  sweepNow(): Promise<number> {
    return sweep(this.sweepContext);
  }

  /** Stops reading events, lets running handlers finish and acknowledges them; unstarted events go to other watchers at once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.sweepTimer);
      await Promise.all(this.pumps.map((pump) => pump.close()));
      await this.delivery.close();
      this.unlisten();
    })();
    return this.closing;
  }

  private wakeAll(): void {
    for (const pump of this.pumps) pump.wake();
  }

  private scheduleSweep(delay: number): void {
    this.sweepTimer = setTimeout(() => {
      if (this.closing) return;
      lockSweep(this.sweepContext, this.consumer, this.options.sweepInterval)
        .then((locked) => (locked ? sweep(this.sweepContext) : 0))
        .catch((err: unknown) => this.report(err))
        .finally(() => {
          // ±10 %: the fleet's watchers do not all try the lock at the same moment.
          if (!this.closing) this.scheduleSweep(this.options.sweepInterval * (0.9 + 0.2 * Math.random()));
        });
    }, delay);
    this.sweepTimer.unref();
  }

  /** onError, which must not stop the watcher even if it throws. */
  private report(err: unknown, event?: Parameters<ResolvedWatchOptions['onError']>[1]): void {
    const error = err instanceof LiveSessionError ? err : new LiveSessionError('ERR_LIVE_SESSION_REDIS', `session events: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    try {
      this.options.onError(error, event);
    } catch {
      // an onError that throws is not the watcher's concern
    }
  }
}
