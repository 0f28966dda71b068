/**
 * The ceiling of the store cycle: the same Redis commands each store sends, in the same 50 concurrent
 * loops over 10,000 sessions, without any store code (no express-session objects, no decoding beyond
 * one JSON.parse, no snapshot). What the store cycle can reach at best on this machine.
 *   read:  our get script                      vs connect-redis's GET + EXPIRE
 *   write: our get script + our write script   vs connect-redis's GET + SET ... EX
 *   write, scripts doing nothing: two EVALSHA with the same arguments and reply shapes, whose Lua
 *          returns at once: what ioredis and the kernel cost Node for our commands alone.
 * Ours calls the scripts LiveSessionStore registers on its client, with the write header the store
 * sends for a one-key change (see lua/write.lua).
 */
import { LiveSessionStore } from '@live-session/core';
import type { Redis } from 'ioredis';
import { timedLoops } from './stats';
import { CONNECT_REDIS, createStore, DAY, newClient, OURS, populate, sids as makeSids, smallSession } from './stores';
import type { Benchmark, Case, MetricDef, Variant } from './types';

const CONCURRENCY = 50;

/** The commands LiveSessionStore registers on its client (defineCommand), and two that do nothing. */
interface Scripted {
  liveSessionGet(key: string): Promise<string | null>;
  liveSessionWrite(key: string, ...args: string[]): Promise<unknown>;
  benchNothingGet(key: string): Promise<string>;
  benchNothingWrite(key: string, ...args: string[]): Promise<unknown>;
}

export const ceiling: Benchmark = {
  name: 'ceiling',
  async setup(ctx) {
    const count = ctx.quick ? 1_000 : 10_000;
    const ourPrefix = 'bench:ceiling:ours:';
    const theirPrefix = 'bench:ceiling:connect-redis:';
    const ours = newClient(ctx.redis.url);
    const theirs = newClient(ctx.redis.url);
    const ourSids = makeSids(count);
    const theirSids = makeSids(count);
    await populate(new LiveSessionStore({ client: ours, prefix: ourPrefix }), ourSids, smallSession);
    await populate(createStore(CONNECT_REDIS, theirs, theirPrefix), theirSids, smallSession);
    const ourKeys = ourSids.map((sid) => ourPrefix + sid);
    const theirKeys = theirSids.map((sid) => theirPrefix + sid);
    const sample = (await (ours as unknown as Scripted).liveSessionGet(ourKeys[0]))!;
    ours.defineCommand('benchNothingGet', { numberOfKeys: 1, lua: `return ${luaString(sample)}` });
    ours.defineCommand('benchNothingWrite', { numberOfKeys: 1, lua: "return { 'ok', 1 }" });
    const scripted = ours as unknown as Scripted;
    const ttl = String(DAY / 1000);
    // The header of lua/write.lua for a save that changes one key (and sends the refresh interval).
    const writeArgs = (i: number) => [`patch at ${Date.now() + DAY} 0 65536 0 publish ${Date.now()} 2 0 0`, 'visits', String(i), '$t', String(DAY)];

    const loops = (name: string, op: (i: number) => Promise<void>): Variant => ({
      name,
      async run() {
        const before = process.cpuUsage();
        const result = await timedLoops(CONCURRENCY, ctx.runMs, op);
        const cpu = process.cpuUsage(before);
        return { perSecond: result.perSecond, cpu: (cpu.user + cpu.system) / result.count };
      },
    });
    const ourGet = async (i: number) => void JSON.parse((await scripted.liveSessionGet(ourKeys[i % count]))!);
    const theirGet = async (i: number) => {
      const key = theirKeys[i % count];
      return { key, session: JSON.parse((await (theirs as Redis).get(key))!) as Record<string, unknown> };
    };
    const theirSet = async (i: number) => {
      const { key, session } = await theirGet(i);
      session.visits = i;
      await theirs.set(key, JSON.stringify(session), 'EX', ttl);
    };

    const metrics: MetricDef[] = [
      { key: 'perSecond', label: 'cycles/s', unit: '/s', better: 'higher' },
      { key: 'cpu', label: 'Node CPU per cycle', unit: 'us', better: 'lower' },
    ];
    const cases: Case[] = [
      {
        id: 'ceiling/read',
        title: `Bare commands of a read-mostly cycle, ${CONCURRENCY} concurrent: our get script vs GET + EXPIRE`,
        metrics,
        variants: [
          loops(OURS, ourGet),
          loops(CONNECT_REDIS, async (i) => void (await theirs.expire((await theirGet(i)).key, ttl))),
        ],
      },
      {
        id: 'ceiling/write',
        title: `Bare commands of a write cycle, ${CONCURRENCY} concurrent: our get + write scripts vs GET + SET`,
        metrics,
        variants: [
          loops(OURS, async (i) => {
            await ourGet(i);
            await scripted.liveSessionWrite(ourKeys[i % count], ...writeArgs(i));
          }),
          loops(CONNECT_REDIS, theirSet),
        ],
      },
      {
        id: 'ceiling/write-nothing',
        title: `The write cycle's two EVALSHA with scripts that return at once (ioredis's and the kernel's cost alone) vs GET + SET`,
        metrics,
        variants: [
          loops(`${OURS} (scripts doing nothing)`, async (i) => {
            JSON.parse(await scripted.benchNothingGet(ourKeys[i % count]));
            await scripted.benchNothingWrite(ourKeys[i % count], ...writeArgs(i));
          }),
          loops(CONNECT_REDIS, theirSet),
        ],
      },
    ];
    return {
      cases,
      async close() {
        await Promise.all([ours.quit(), theirs.quit()]);
      },
    };
  },
};

/** A Lua long string holding `text` as it is. */
function luaString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}
