/**
 * The sweep: once per `sweepInterval` for the whole fleet (a lock in shard 0's slot, SET NX PX),
 * one watcher SCANs every session and has each shard adopt those it does not know
 * (lua/events/record.lua, 'adopt'): sessions created before the store had `events`, or whose
 * creation could not be recorded (the server died between its write and the record, or the
 * record was lost with a failed-over master). An adopted session is due at once and marked
 * unconfirmed: a watcher checks it is alive before anything is reported for it; then its end is
 * reported like any other (its creation is not: it was before the events knew it).
 */
import { scanKeys } from '../keyspace';
import type { RedisConnection } from '../redis';
import { encodeOwner } from './event';
import { EVENT_SCRIPTS } from './scripts';
import type { EventShards } from './shards';

/** Sessions read per pipelined round trip. */
const BATCH = 200;

type Call = <T>(what: string, operation: () => Promise<T>) => Promise<T>;

export interface SweepContext {
  redis: RedisConnection;
  shards: EventShards;
  call: Call;
  prefix: string;
  scanCount: number;
  publish: string;
  maxBacklog: number;
}

/** Takes the fleet's sweep lock for `interval` ms; false when another watcher holds it. */
export async function lockSweep({ redis, shards, call }: SweepContext, holder: string, interval: number): Promise<boolean> {
  const key = shards.sweepLock();
  return (await call('events', () => redis.command(key, ['SET', key, holder, 'NX', 'PX', interval]))) === 'OK';
}

/** Adopts every session the events do not know; returns how many were adopted. */
export async function sweep(ctx: SweepContext): Promise<number> {
  const { redis, shards, call, prefix } = ctx;
  const keys = await call('events', () => scanKeys(redis, prefix, ctx.scanCount, ['hash']));
  let adopted = 0;
  for (let i = 0; i < keys.length; i += BATCH) {
    const batch = keys.slice(i, i + BATCH);
    const replies = await call('events', () => redis.batch(batch.map((key) => ({ key, args: ['HMGET', key, '$c', '$u', '$n'] }))));
    const byShard = new Map<number, string[]>();
    batch.forEach((key, j) => {
      const [err, reply] = replies[j];
      if (err || !Array.isArray(reply) || reply[0] === null || reply[0] === undefined) return; // gone since the SCAN
      const [created, user, info] = reply as (string | null)[];
      const sid = key.slice(prefix.length);
      const shard = shards.of(sid);
      const pairs = byShard.get(shard) ?? [];
      pairs.push(sid, `${Number(created) || 0}:${encodeOwner(user ? { user, info: info ?? '' } : null)}`);
      byShard.set(shard, pairs);
    });
    const counts = await Promise.all(
      [...byShard].map(([shard, pairs]) =>
        call('events', () => redis.script(EVENT_SCRIPTS.record, shards.due(shard), ['adopt', ctx.publish, ctx.maxBacklog, Date.now(), ...pairs])),
      ),
    );
    for (const count of counts) adopted += Number(count);
  }
  return adopted;
}
