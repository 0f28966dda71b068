/**
 * Hands the events a watcher read to the app's handlers: at most `concurrency` at once, in the
 * order they were read; acknowledges each one once its handler resolved (batched per shard); keeps
 * the events it holds claimed while their handlers run (a slow handler never loses its event to
 * another watcher); leaves a failed event unacknowledged, so that it is delivered again after
 * `claimAfter`, until `maxAttempts`.
 */
import { LiveSessionError } from '../errors';
import { decodeEvent, type SessionEvent, type SessionEventHandlers } from './event';
import type { ResolvedWatchOptions } from './watch-options';

export interface DeliveryIo {
  /** Acknowledges handled events (and deletes them from the stream). */
  ack(shard: number, ids: string[]): Promise<void>;
  /** Claims again events this watcher holds, resetting their idle time (XCLAIM ... JUSTID). */
  keep(shard: number, ids: string[]): Promise<void>;
  /** Lets other watchers take events this watcher will not handle (it is closing) at once. */
  release(shard: number, ids: string[]): Promise<void>;
  report(err: LiveSessionError, event?: SessionEvent): void;
  /** There is room for more events again. */
  roomFreed(): void;
}

interface Held {
  shard: number;
  id: string;
  event: SessionEvent;
}

/** Acknowledgements and claims per command. */
const CHUNK = 500;

export class Delivery {
  private readonly queue: Held[] = [];
  private running = 0;
  /** Event ids read and not yet acknowledged or failed, per shard. */
  private readonly held = new Map<number, Set<string>>();
  private heldCount = 0;
  private readonly acks = new Map<number, string[]>();
  private flushing: Promise<void> | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly idleWaiters: (() => void)[] = [];
  private closing = false;

  constructor(
    private readonly handlers: SessionEventHandlers,
    private readonly options: Pick<ResolvedWatchOptions, 'concurrency' | 'claimAfter' | 'maxAttempts'>,
    private readonly io: DeliveryIo,
  ) {
    this.heartbeat = setInterval(() => this.keepHeld(), Math.max(50, Math.floor(options.claimAfter / 3)));
    this.heartbeat.unref();
  }

  /** How many more events this watcher should read now. */
  room(): number {
    return this.closing ? 0 : Math.max(0, this.options.concurrency - this.heldCount);
  }

  /** Events read from a shard's stream; `attempts[i]` their delivery counts (1 when absent). */
  take(shard: number, entries: unknown[], attempts: unknown[] = []): void {
    entries.forEach((entry, i) => {
      const id = Array.isArray(entry) ? String(entry[0]) : '';
      if (id === '' || this.isHeld(shard, id)) return; // taken over while still here: it is running already
      const attempt = Number(attempts[i] ?? 1) || 1;
      const event = decodeEvent(entry, attempt);
      if (!event) {
        this.io.report(new LiveSessionError('ERR_LIVE_SESSION_EVENT_DROPPED', `entry ${id} of an events stream is not a session event: acknowledged without a handler`));
        this.acknowledge(shard, id);
        return;
      }
      if (attempt > this.options.maxAttempts) {
        this.io.report(new LiveSessionError('ERR_LIVE_SESSION_EVENT_DROPPED', `the ${event.type} event of session "${event.sid}" failed ${attempt - 1} times (option "maxAttempts" of watchSessions is ${this.options.maxAttempts}): given up`), event);
        this.acknowledge(shard, id);
        return;
      }
      this.hold(shard, id);
      this.queue.push({ shard, id, event });
    });
    this.startNext();
  }

  /** Stops taking events, lets the running handlers finish, acknowledges them, releases the rest. */
  async close(): Promise<void> {
    this.closing = true;
    const unstarted = this.queue.splice(0);
    for (const { shard, id } of unstarted) this.unhold(shard, id);
    const byShard = new Map<number, string[]>();
    for (const { shard, id } of unstarted) byShard.set(shard, [...(byShard.get(shard) ?? []), id]);
    await Promise.allSettled([...byShard].map(([shard, ids]) => this.io.release(shard, ids)));
    if (this.running > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    clearInterval(this.heartbeat);
    await this.flush();
  }

  private startNext(): void {
    while (this.running < this.options.concurrency && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.running++;
      void this.handle(next).finally(() => {
        this.running--;
        if (this.running === 0 && this.queue.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        this.startNext();
      });
    }
  }

  private async handle({ shard, id, event }: Held): Promise<void> {
    const handler = this.handlers[event.type] as ((event: SessionEvent) => void | Promise<void>) | undefined;
    try {
      if (handler) await handler(event);
    } catch (cause) {
      // Left unacknowledged: delivered again once it has been idle for claimAfter.
      this.unhold(shard, id);
      this.io.roomFreed();
      const message = cause instanceof Error ? cause.message : String(cause);
      this.io.report(new LiveSessionError('ERR_LIVE_SESSION_HANDLER', `the ${event.type} handler failed for session "${event.sid}" (attempt ${event.attempt}): ${message}; delivered again in ${this.options.claimAfter} ms (option "claimAfter")`, { cause }), event);
      return;
    }
    this.acknowledge(shard, id);
  }

  private acknowledge(shard: number, id: string): void {
    const list = this.acks.get(shard);
    if (list) list.push(id);
    else this.acks.set(shard, [id]);
    // Every acknowledgement of this tick in one command per shard.
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.flush());
  }

  private async flush(): Promise<void> {
    this.flushing = undefined;
    const batches = [...this.acks];
    this.acks.clear();
    await Promise.all(
      batches.flatMap(([shard, ids]) =>
        chunks(ids).map(async (chunk) => {
          try {
            await this.io.ack(shard, chunk);
          } catch (err) {
            // Still pending in Redis: delivered again after claimAfter (the handler ran: at least once).
            this.io.report(err as LiveSessionError);
          } finally {
            for (const id of chunk) this.unhold(shard, id);
          }
        }),
      ),
    );
    if (this.room() > 0) this.io.roomFreed();
  }

  private keepHeld(): void {
    for (const [shard, ids] of this.held) {
      for (const chunk of chunks([...ids])) this.io.keep(shard, chunk).catch((err: unknown) => this.io.report(err as LiveSessionError));
    }
  }

  private isHeld(shard: number, id: string): boolean {
    return this.held.get(shard)?.has(id) ?? false;
  }

  private hold(shard: number, id: string): void {
    let ids = this.held.get(shard);
    if (!ids) this.held.set(shard, (ids = new Set()));
    ids.add(id);
    this.heldCount++;
  }

  private unhold(shard: number, id: string): void {
    if (this.held.get(shard)?.delete(id)) this.heldCount--;
  }
}

function chunks(ids: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < ids.length; i += CHUNK) out.push(ids.slice(i, i + CHUNK));
  return out;
}
