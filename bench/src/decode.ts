/**
 * The decode alone, in Node, no Redis round trip: what moving the read's decode from the get script's one
 * JSON document to HGETALL's flat reply costs. The replies are real ones, read once from Redis for the small
 * session: our get script's document (decodeSessionDocument), the same session's HGETALL reply
 * (decodeSession, the store's decoder for the flat fields), and connect-redis's string (JSON.parse).
 */
import { LiveSessionStore } from '@live-session/core';
import { loadFields } from './ceiling';
import { CONNECT_REDIS, createStore, newClient, populate, sids as makeSids, smallSession } from './stores';
import type { Benchmark, Variant } from './types';

export const decode: Benchmark = {
  name: 'decode',
  async setup(ctx) {
    const { decodeSession, decodeSessionDocument } = loadFields();
    const client = newClient(ctx.redis.url);
    const [sid] = makeSids(1);
    await populate(new LiveSessionStore({ client, prefix: 'bench:decode:ours:' }), [sid], smallSession);
    await populate(createStore(CONNECT_REDIS, client, 'bench:decode:connect-redis:'), [sid], smallSession);
    const document = (await (client as unknown as { liveSessionGet(key: string): Promise<string> }).liveSessionGet(`bench:decode:ours:${sid}`))!;
    const flat = (await client.call('HGETALL', `bench:decode:ours:${sid}`)) as string[];
    const pttl = await client.pttl(`bench:decode:ours:${sid}`);
    const string = (await client.get(`bench:decode:connect-redis:${sid}`))!;
    await client.quit();
    const n = ctx.quick ? 20_000 : 300_000;
    const variant = (name: string, op: () => unknown): Variant => ({
      name,
      async run() {
        for (let i = 0; i < n / 10; i++) op();
        const before = process.cpuUsage();
        for (let i = 0; i < n; i++) op();
        const cpu = process.cpuUsage(before);
        return { nodeCpu: (cpu.user + cpu.system) / n };
      },
    });
    return {
      cases: [
        {
          id: 'decode/small-session',
          title: 'Decoding one small session in Node (no Redis): the get script document vs the HGETALL reply vs connect-redis string',
          metrics: [{ key: 'nodeCpu', label: 'Node CPU per decode', unit: 'us', better: 'lower' }],
          variants: [
            variant('decodeSessionDocument (get script reply)', () => decodeSessionDocument(sid, document)),
            variant('decodeSession (HGETALL reply)', () => decodeSession(sid, flat, pttl)),
            variant('JSON.parse (connect-redis string)', () => JSON.parse(string)),
          ],
          notes: () => ({ replies: { document, flat, string } }),
        },
      ],
      close: async () => undefined,
    };
  },
};
