/**
 * The ceiling of the store cycle, and what a redesign of the read and write paths could reach: bare
 * Redis command sequences in the store cycle's 50 concurrent loops over 10,000 sessions, without any
 * store or express-session code. Every sequence on ioredis without and with `enableAutoPipelining`.
 *   ceiling/read:         our get script (+ decode of its JSON document) vs HGETALL + PTTL in one write
 *                         (+ the store's decode of the hash in Node), with PEXPIRE only when the expiry has
 *                         drifted (touchAfter-like) or with PEXPIRE on every read; the same reply not decoded
 *                         (what the client costs without the decode); HGETALL alone (one command, the expiry
 *                         kept in a field: a prototype); vs GET + EXPIRE.
 *   ceiling/write-script: the write alone: our write script vs a trimmed prototype (bench/lua/write-small.lua)
 *                         vs MULTI HSET + PEXPIREAT + PUBLISH (no checks at all: the floor of plain
 *                         commands) vs SET ... EX.
 *   ceiling/write:        a whole write cycle: get script + write script vs HGETALL + PTTL + the small
 *                         script vs HGETALL alone + the small script (the redesigns) vs GET + SET ... EX.
 *   ceiling/write-nothing: the cycle's two EVALSHA with scripts that return at once (ioredis's cost alone).
 * Per op: Redis CPU, Node CPU, Redis commands (commands run inside a script count too).
 */
import { LiveSessionStore } from '@live-session/core';
import type { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CPU_METRICS, metered } from './meter';
import { timedLoops } from './stats';
import { CONNECT_REDIS, createStore, DAY, newClient, OURS, populate, sids as makeSids, smallSession } from './stores';
import type { Benchmark, Case, Context, MetricDef, Variant } from './types';

const CONCURRENCY = 50;
/** The drift after which the plain read re-sends PEXPIRE: a tenth of the refresh interval. */
const DRIFT = 0.1;

/** The commands LiveSessionStore registers on its client (defineCommand), the prototype, two that do nothing. */
interface Scripted {
  liveSessionGet(key: string): Promise<string | null>;
  liveSessionWrite(key: string, ...args: string[]): Promise<unknown>;
  benchWriteSmall(key: string, ...args: string[]): Promise<unknown>;
  benchNothingGet(key: string): Promise<string>;
  benchNothingWrite(key: string, ...args: string[]): Promise<unknown>;
}

/** The store's own decoders (packages/core/src/fields.ts), loaded from its dist/: the package exports only its API. */
interface Decoded {
  data: Record<string, unknown>;
  version: number;
}
interface Fields {
  decodeSession(sid: string, flat: string[], pttl: number): Decoded;
  decodeSessionDocument(sid: string, text: string): Decoded | undefined;
}
export function loadFields(): Fields {
  const fields = require(join(dirname(require.resolve('@live-session/core')), 'fields.js')) as Partial<Fields>;
  if (typeof fields.decodeSession !== 'function' || typeof fields.decodeSessionDocument !== 'function') {
    throw new Error('ceiling: @live-session/core/dist/fields.js no longer exports decodeSession and decodeSessionDocument: update bench/src/ceiling.ts');
  }
  return fields as Fields;
}

const AUTO = ' + autoPipelining';
/** A value no write has stored before (loop indices restart each round): every write changes the session. */
let serial = 0;
const fresh = () => String(++serial);

export const ceiling: Benchmark = {
  name: 'ceiling',
  async setup(ctx: Context) {
    const { decodeSession, decodeSessionDocument } = loadFields();
    const count = ctx.quick ? 1_000 : 10_000;
    const ourPrefix = 'bench:ceiling:ours:';
    const theirPrefix = 'bench:ceiling:connect-redis:';
    const plain = newClient(ctx.redis.url);
    const auto = newClient(ctx.redis.url, { autoPipelining: true });
    const ourSids = makeSids(count);
    const theirSids = makeSids(count);
    await populate(new LiveSessionStore({ client: plain, prefix: ourPrefix }), ourSids, smallSession);
    new LiveSessionStore({ client: auto, prefix: ourPrefix }); // registers the scripts on the second client
    await populate(createStore(CONNECT_REDIS, plain, theirPrefix), theirSids, smallSession);
    const ourKeys = ourSids.map((sid) => ourPrefix + sid);
    const theirKeys = theirSids.map((sid) => theirPrefix + sid);
    const sample = (await (plain as unknown as Scripted).liveSessionGet(ourKeys[0]))!;
    const small = readFileSync(join(__dirname, '..', 'lua', 'write-small.lua'), 'utf8');
    for (const client of [plain, auto]) {
      client.defineCommand('benchWriteSmall', { numberOfKeys: 1, lua: small });
      client.defineCommand('benchNothingGet', { numberOfKeys: 1, lua: `return ${luaString(sample)}` });
      client.defineCommand('benchNothingWrite', { numberOfKeys: 1, lua: "return { 'ok', 1 }" });
    }
    const ttl = String(DAY / 1000);
    const at = () => Date.now() + DAY;
    // The header of lua/write.lua for a save that changes one key (and sends the refresh interval), and the prototype's.
    const writeArgs = () => [`patch at ${at()} 0 65536 0 publish ${Date.now()} 2 0 0 0`, 'visits', fresh(), '$t', String(DAY)];
    const smallArgs = () => [`patch at ${at()} 0 publish ${Date.now()} 2 0 0`, 'visits', fresh(), '$t', String(DAY)];

    /** One sequence of commands, on the client without and with auto-pipelining. */
    type Op = (client: Redis, i: number) => Promise<unknown>;
    const both = (name: string, op: Op): Variant[] =>
      [plain, auto].map((client) => ({
        name: client === plain ? name : name + AUTO,
        async run() {
          const m = await metered(ctx.meter, () => timedLoops(CONCURRENCY, ctx.runMs, (i) => op(client, i).then(() => undefined)));
          commands[name + (client === plain ? '' : AUTO)] = m.commands;
          return { perSecond: m.result.perSecond, redisCpu: m.redisCpu, nodeCpu: m.nodeCpu, commandsPerOp: m.commandsPerOp };
        },
      }));
    const commands: Record<string, Record<string, number>> = {};

    const scriptRead: Op = async (client, i) => {
      const sid = ourSids[i % count];
      const doc = await (client as unknown as Scripted).liveSessionGet(ourPrefix + sid);
      if (!decodeSessionDocument(sid, doc!)) throw new Error('ceiling: the get script returned a document the store cannot decode');
    };
    /** HGETALL + PTTL in one write (an explicit pipeline, or the auto-pipeline), the store's decode of the hash. */
    const hashRead = async (client: Redis, i: number, alwaysRefresh: boolean, decode = true) => {
      const sid = ourSids[i % count];
      const key = ourPrefix + sid;
      let flat: string[];
      let pttl: number;
      if (client === auto) {
        // Issued in one tick: the auto-pipeline writes them together (with other cycles' commands).
        const hash = client.call('HGETALL', key) as Promise<string[]>;
        if (alwaysRefresh) void client.pexpire(key, DAY);
        [flat, pttl] = await Promise.all([hash, client.pttl(key)]);
      } else {
        const pipeline = client.pipeline().call('HGETALL', key);
        if (alwaysRefresh) pipeline.pexpire(key, DAY);
        const replies = (await pipeline.pttl(key).exec())!;
        for (const [err] of replies) if (err) throw err;
        flat = replies[0][1] as string[];
        pttl = replies[replies.length - 1][1] as number;
      }
      const session = decode ? decodeSession(sid, flat, pttl) : undefined;
      if (!alwaysRefresh) {
        // Refresh only when the expiry has drifted by more than DRIFT of the refresh interval ('$t').
        const t = refreshOf(flat);
        if (t !== undefined && t - pttl > t * DRIFT) await client.pexpire(key, t);
      }
      return session;
    };
    /**
     * One command per read: HGETALL alone, the expiry read from a field a write would keep beside PEXPIREAT
     * (a prototype: these sessions have no such field, so the decode gets the refresh interval as the TTL,
     * and no read here has drifted enough to need the PEXPIRE).
     */
    const hgetallRead: Op = async (client, i) => {
      const sid = ourSids[i % count];
      const flat = (await client.call('HGETALL', ourPrefix + sid)) as string[];
      return decodeSession(sid, flat, refreshOf(flat) ?? DAY);
    };
    const theirGet = async (client: Redis, i: number) => {
      const key = theirKeys[i % count];
      return { key, session: JSON.parse((await client.get(key))!) as Record<string, unknown> };
    };
    const theirSet = async (client: Redis, i: number) => {
      const { key, session } = await theirGet(client, i);
      session.visits = Number(fresh());
      await client.set(key, JSON.stringify(session), 'EX', ttl);
    };
    const fullWrite: Op = (client, i) => (client as unknown as Scripted).liveSessionWrite(ourKeys[i % count], ...writeArgs());
    const smallWrite: Op = async (client, i) => {
      const reply = await (client as unknown as Scripted).benchWriteSmall(ourKeys[i % count], ...smallArgs());
      if (typeof reply !== 'number' || reply < 0) throw new Error(`ceiling: the small write script answered ${JSON.stringify(reply)}`);
    };
    const multiWrite: Op = async (client, i) => {
      const key = ourKeys[i % count];
      const value = fresh();
      const replies = await client
        .multi()
        .hset(key, 'visits', value, '$v', value)
        .pexpireat(key, at())
        .publish(key, `{"format":1,"event":"change","version":${value},"set":{"visits":${value}},"unset":[]}`)
        .exec();
      if (!replies) throw new Error('ceiling: MULTI aborted');
    };
    const theirWriteOnly: Op = async (client, i) => {
      await client.set(theirKeys[i % count], `{"cookie":{"originalMaxAge":86400000,"expires":"${new Date(at()).toISOString()}","httpOnly":true,"path":"/"},"user":{"id":${i},"name":"Ada Lovelace"},"cart":[101,202,303],"visits":${i}}`, 'EX', ttl);
    };

    const metrics: MetricDef[] = [{ key: 'perSecond', label: 'ops/s', unit: '/s', better: 'higher' }, ...CPU_METRICS];
    const notes = (ids: string[]) => () => ({ commandsPerOp: Object.fromEntries(Object.entries(commands).filter(([k]) => ids.some((id) => k === id || k === id + AUTO))) });
    const READ = ['get script', 'HGETALL + PTTL, PEXPIRE when drifted', 'HGETALL + PTTL, not decoded', 'HGETALL alone, PEXPIRE when drifted', 'HGETALL + PEXPIRE + PTTL', 'GET + EXPIRE'];
    const SCRIPT = ['write script', 'small write script', 'MULTI HSET + PEXPIREAT + PUBLISH', 'SET ... EX'];
    const CYCLE = ['get script + write script', 'HGETALL + PTTL + small write script', 'HGETALL alone + small write script', 'GET + SET ... EX'];
    const NOTHING = [`${OURS} (scripts doing nothing)`, 'GET + SET ... EX (connect-redis)'];
    const cases: Case[] = [
      {
        id: 'ceiling/read',
        title: `Bare commands of a read, ${CONCURRENCY} concurrent: our get script vs HGETALL + PTTL with the decode in Node vs GET + EXPIRE`,
        metrics,
        variants: [
          ...both(READ[0], scriptRead),
          ...both(READ[1], (c, i) => hashRead(c, i, false)),
          ...both(READ[2], (c, i) => hashRead(c, i, false, false)),
          ...both(READ[3], hgetallRead),
          ...both(READ[4], (c, i) => hashRead(c, i, true)),
          ...both(READ[5], async (c, i) => void (await c.expire((await theirGet(c, i)).key, ttl))),
        ],
        notes: notes(READ),
      },
      {
        id: 'ceiling/write-script',
        title: `The write alone, ${CONCURRENCY} concurrent: our write script vs a trimmed prototype vs plain MULTI (no checks) vs SET ... EX`,
        metrics,
        variants: [...both(SCRIPT[0], fullWrite), ...both(SCRIPT[1], smallWrite), ...both(SCRIPT[2], multiWrite), ...both(SCRIPT[3], theirWriteOnly)],
        notes: notes(SCRIPT),
      },
      {
        id: 'ceiling/write',
        title: `Bare commands of a write cycle, ${CONCURRENCY} concurrent: get + write scripts vs HGETALL + PTTL + small script vs GET + SET`,
        metrics,
        variants: [
          ...both(CYCLE[0], async (c, i) => {
            await scriptRead(c, i);
            await fullWrite(c, i);
          }),
          ...both(CYCLE[1], async (c, i) => {
            await hashRead(c, i, false);
            await smallWrite(c, i);
          }),
          ...both(CYCLE[2], async (c, i) => {
            await hgetallRead(c, i);
            await smallWrite(c, i);
          }),
          ...both(CYCLE[3], theirSet),
        ],
        notes: notes(CYCLE),
      },
      {
        id: 'ceiling/write-nothing',
        title: `The write cycle's two EVALSHA with scripts that return at once (ioredis's and the kernel's cost alone) vs GET + SET`,
        metrics,
        variants: [
          ...both(NOTHING[0], async (c, i) => {
            JSON.parse(await (c as unknown as Scripted).benchNothingGet(ourKeys[i % count]));
            await (c as unknown as Scripted).benchNothingWrite(ourKeys[i % count], ...writeArgs());
          }),
          ...both(NOTHING[1], theirSet),
        ],
        notes: notes(NOTHING),
      },
    ];
    return {
      cases,
      async close() {
        await Promise.all([plain.quit(), auto.quit()]);
      },
    };
  },
};

function refreshOf(flat: string[]): number | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === '$t') return Number(flat[i + 1]);
  return undefined;
}

/** A Lua long string holding `text` as it is. */
function luaString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}
