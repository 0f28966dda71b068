/**
 * One watcher's work on one shard: looks (lua/events/poll.lua) when the first entry of the shard
 * comes due, when woken (something was recorded), when there is room for more events, and at least
 * every few seconds; checks the due sessions it claimed (one PTTL each, which unlike a read does not
 * refresh them) and settles them (lua/events/settle.lua): gone means expired (unless the session
 * left a tombstone: destroyed or revoked, see src/events/tombstone.ts), alive means look again when
 * it can expire next. So a read or a touch never has to tell the events that it moved an
 * expiry later: the check finds out (as packages/socket.io's expiry-watch does for one process).
 */
import type { BatchReply, RedisConnection } from '../redis';
import type { Delivery } from './delivery';
import { MAX_BACKLOG } from './recorder';
import { EVENT_SCRIPTS } from './scripts';
import type { EventShards } from './shards';
import { tombstoneOf } from './tombstone';
import type { ResolvedWatchOptions } from './watch-options';

/** The consumer group every watcher of a prefix joins. */
export const GROUP = 'live-session';
/** Checked this long after the expiry Redis reported, so the key is past it. */
const MARGIN_MS = 2;
/** At most this often, unless a look left due entries or unread events behind. */
const MIN_GAP_MS = 50;
/** Random delay added to a look for a due entry: the fleet's watchers do not all wake at once. */
const JITTER_MS = 50;
/** A look at least this often (randomized ±50 %; or every claimAfter, if shorter), in case a wake was lost and to take over events another watcher left. */
const SAFETY_MS = 5000;
/** After a failed look or check. */
const RETRY_MS = 1000;

type Call = <T>(what: string, operation: () => Promise<T>) => Promise<T>;

export interface PumpContext {
  redis: RedisConnection;
  shards: EventShards;
  options: ResolvedWatchOptions;
  delivery: Delivery;
  call: Call;
  /** The key of a session (throws for an id the store would refuse). */
  keyOf(sid: string): string;
  publish: string;
  /** The store's lifetime: when to look again at a session without a TTL. */
  lifetime: number;
  /** How long a watcher's claim on due entries lasts: past it, another watcher may claim them. */
  leaseMs: number;
  report(err: unknown): void;
}

export class ShardPump {
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private looking: Promise<void> | undefined;
  private again = false;
  private lastLook = 0;
  /** The last look read as many events as there was room for: there may be more. */
  private readFull = false;
  /** When this pump last took over events other watchers left unacknowledged (ms). */
  private lastTakeOver = 0;
  private closed = false;

  constructor(
    private readonly shard: number,
    private readonly ctx: PumpContext,
  ) {}

  /** Looks now. */
  start(): void {
    this.at(Date.now());
  }

  /** Something was recorded in this shard (a wake message), or messages may have been lost. */
  wake(): void {
    this.at(Math.max(Date.now(), this.lastLook + MIN_GAP_MS));
  }

  /** There is room for events again. */
  roomFreed(): void {
    if (this.readFull) this.at(Date.now());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.looking;
  }

  /** Schedules a look at `time` (ms since the epoch), unless one is due sooner. */
  private at(time: number): void {
    if (this.closed) return;
    if (this.looking) {
      if (time <= Date.now()) this.again = true;
      else this.schedule(time);
      return;
    }
    this.schedule(time);
  }

  private schedule(time: number): void {
    if (time >= this.timerAt) return;
    clearTimeout(this.timer);
    this.timerAt = time;
    this.timer = setTimeout(() => this.run(), Math.max(0, time - Date.now()));
    this.timer.unref();
  }

  private run(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    if (this.looking) {
      this.again = true;
      return;
    }
    this.looking = this.look()
      .catch((err: unknown) => {
        this.ctx.report(err);
        this.schedule(Date.now() + RETRY_MS);
      })
      .finally(() => {
        this.looking = undefined;
        if (this.again) {
          this.again = false;
          this.at(Date.now());
        }
      });
  }

  private async look(): Promise<void> {
    const { redis, shards, options, delivery, call } = this.ctx;
    const now = Date.now();
    this.lastLook = now;
    const lease = now + this.ctx.leaseMs;
    const room = delivery.room();
    // Events left unacknowledged for claimAfter: looked for twice per claimAfter (XAUTOCLAIM scans the pending list).
    const takeOver = room > 0 && now - this.lastTakeOver >= options.claimAfter / 2 ? room : 0;
    if (takeOver > 0) this.lastTakeOver = now;
    const key = shards.due(this.shard);
    const args = [now, lease, options.batchSize, GROUP, options.consumer, room, options.claimAfter, takeOver];
    const [claimed, fresh, stale, attempts, polledHead] = (await call('events', () => redis.script(EVENT_SCRIPTS.poll, key, args))) as [string[], unknown[], unknown[], unknown[], string | null];
    delivery.take(this.shard, fresh ?? []);
    delivery.take(this.shard, stale ?? [], attempts ?? []);
    this.readFull = room > 0 && (fresh?.length ?? 0) + (stale?.length ?? 0) >= room;
    // The check reschedules what it claimed: the first entry is then the one its settle reports.
    const head = claimed.length > 0 ? await this.check(claimed, lease) : polledHead;
    if (claimed.length / 2 >= options.batchSize || (this.readFull && delivery.room() > 0)) {
      this.again = true; // more is waiting: look again at once
      return;
    }
    const first = head === null || head === undefined ? Infinity : Number(head);
    const safety = Date.now() + Math.min(SAFETY_MS, options.claimAfter) * (0.5 + Math.random());
    this.schedule(Math.max(Math.min(first + Math.random() * JITTER_MS, safety), now + MIN_GAP_MS));
  }

  /**
   * PTTL of each claimed session (pipelined), then the tombstone of each one found gone, then one
   * settle: gone with a tombstone of its life is what the tombstone says (destroyed, revoked), gone
   * without one is expired, alive is looked at again when it can expire. Resolves to the shard's
   * first score after the settle (null: none).
   */
  private async check(claimed: string[], lease: number): Promise<string | null> {
    const { redis, call } = this.ctx;
    const sids: string[] = [];
    const scores: string[] = [];
    const keys: (string | null)[] = [];
    for (let i = 0; i + 1 < claimed.length; i += 2) {
      sids.push(String(claimed[i]));
      scores.push(String(claimed[i + 1]));
      keys.push(this.keyOrNull(String(claimed[i])));
    }
    const live = keys.filter((key): key is string => key !== null);
    const replies = await call('events', () => redis.batch(live.map((key) => ({ key, args: ['PTTL', key] }))));
    const now = Date.now();
    // The tombstones of the sessions found gone, asked once their PTTL replies are here, so after
    // Redis ran those PTTLs: a destroy that deleted one of them before had written its tombstone in
    // the same script (src/events/tombstone.ts), before.
    const pttls: (BatchReply | null)[] = [];
    let next = 0;
    for (const key of keys) pttls.push(key === null ? null : replies[next++]);
    const gone = keys.flatMap((key, i) => (key !== null && !pttls[i]![0] && pttls[i]![1] === -2 ? [tombstoneOf(key)] : []));
    const read = gone.length > 0 ? await call('events', () => redis.batch(gone.map((name) => ({ key: name, args: ['GET', name] })))) : [];
    const tombstones = new Map(gone.map((name, j) => [name, read[j]]));
    const verdicts: (string | number)[] = [];
    sids.forEach((sid, i) => {
      const key = keys[i];
      if (key === null) return void verdicts.push(sid, `g${scores[i]}`); // an id no store could have written: drop it
      const [err, pttl] = pttls[i]!;
      let verdict: string | number;
      if (err) verdict = now + RETRY_MS;
      else if (pttl === -2) verdict = goneVerdict(scores[i], tombstones.get(tombstoneOf(key))!, now);
      else if (typeof pttl !== 'number' || pttl < 0) verdict = now + this.ctx.lifetime;
      else verdict = now + pttl + MARGIN_MS;
      verdicts.push(sid, verdict);
    });
    const key = this.ctx.shards.due(this.shard);
    const [, head] = (await call('events', () => redis.script(EVENT_SCRIPTS.settle, key, [now, lease, this.ctx.publish, MAX_BACKLOG, ...verdicts]))) as [number, string | null];
    return head;
  }

  private keyOrNull(sid: string): string | null {
    try {
      return this.ctx.keyOf(sid);
    } catch {
      return null;
    }
  }
}

/**
 * The verdict on a session found gone (lua/events/settle.lua): with its tombstone
 * (`<type>:<at>:<createdAt>`, lua/destroy.lua), `t<score> <type> <at> <createdAt>` (settle checks the
 * life); without, `g<score>`: expired when it was due. A tombstone that could not be read: look again.
 */
function goneVerdict(score: string, [err, tombstone]: BatchReply, now: number): string | number {
  if (err) return now + RETRY_MS;
  const match = typeof tombstone === 'string' ? /^(destroyed|revoked|expired):(\d+):(\d+)$/.exec(tombstone) : null;
  return match ? `t${score} ${match[1]} ${match[2]} ${match[3]}` : `g${score}`;
}
