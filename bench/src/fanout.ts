/**
 * 3. Live fan-out: a write on server A until a socket.io-client connected to server B has it.
 *    ours: LiveSessionStore.putSession on A; B runs createLiveSession({ store, expose }) and pushes
 *          `live_session:update` to the session's sockets.
 *    anchors: connect-redis `set` on A, then `io.to(sid).emit(...)` through @socket.io/redis-adapter
 *          (classic createAdapter, or createShardedAdapter with subscriptionMode "dynamic"); B's
 *          sockets joined the room of their session id.
 *    Everything runs in this process (servers A and B, the 1,000 clients), as the anchors were measured.
 *    Then (fanout-4) four servers, each holding the sockets of a quarter of the sessions: messages each
 *    server's subscriber connection receives from Redis, per write.
 */
import { buildFleets, CLASSIC, type Kind, phase, SHARDED, skipUnlessBuilt } from './fleet';
import { OURS } from './stores';
import type { Benchmark, Case, Context, MetricDef, Variant } from './types';

export const fanout: Benchmark = {
  name: 'fanout',
  async setup(ctx: Context) {
    skipUnlessBuilt();
    const kinds: Kind[] = [OURS, CLASSIC, SHARDED];
    const built = await buildFleets(ctx, 1, 'fanout', kinds);
    const lost: Record<string, number> = {};
    const variant = (kind: Kind, writers: number): Variant => ({
      name: kind,
      async run() {
        const r = await phase(built.fleets.get(kind)!, built.sidsOf.get(kind)!, built.perSession, writers, ctx.runMs);
        lost[`${writers}/${kind}`] = (lost[`${writers}/${kind}`] ?? 0) + r.lost;
        return { deliveriesPerSecond: r.deliveriesPerSecond, p50: r.p50, p99: r.p99 };
      },
    });
    const metrics: MetricDef[] = [
      { key: 'deliveriesPerSecond', label: 'deliveries/s', unit: '/s', better: 'higher' },
      { key: 'p50', label: 'p50 write->client', unit: 'ms', better: 'lower' },
      { key: 'p99', label: 'p99 write->client', unit: 'ms', better: 'lower' },
    ];
    const targets = [
      { metric: 'deliveriesPerSecond', against: 'best', op: '>=' as const, ratio: 1, text: 'throughput >= the better anchor' },
      { metric: 'p99', against: 'best', op: '<=' as const, ratio: 1, text: 'p99 <= the better anchor' },
    ];
    const clients = built.sessionCount * built.perSession;
    const cases: Case[] = [1, 20].map((writers) => ({
      id: `fanout/${writers === 1 ? 'sequential' : `${writers}-writers`}`,
      title: `Write on server A -> socket.io-client on server B, ${clients} clients over ${built.sessionCount} sessions, ${writers === 1 ? 'one sequential writer' : `${writers} concurrent writers`}`,
      metrics,
      variants: kinds.map((k) => variant(k, writers)),
      targets,
      notes: () => ({ lostDeliveries: Object.fromEntries(Object.entries(lost).filter(([k]) => k.startsWith(`${writers}/`))) }),
    }));
    return { cases, close: () => built.close() };
  },
};

export const fanoutServers: Benchmark = {
  name: 'fanout-4',
  async setup(ctx: Context) {
    skipUnlessBuilt();
    const kinds: Kind[] = [OURS, CLASSIC, SHARDED];
    const built = await buildFleets(ctx, 4, 'fanout4', kinds);
    const perServerLog: Record<string, number[][]> = {};
    const variants: Variant[] = kinds.map((kind) => ({
      name: kind,
      async run() {
        const sids = built.sidsOf.get(kind)!;
        const writes = sids.length * (ctx.quick ? 1 : 4);
        const r = await phase(built.fleets.get(kind)!, sids, built.perSession, 1, 120_000, writes);
        if (r.lost) throw new Error(`${kind}: ${r.lost} deliveries lost`);
        (perServerLog[kind] ??= []).push(r.perServer);
        const perWrite = r.perServer.map((n) => n / r.writes);
        return { perServerPerWrite: perWrite.reduce((a, b) => a + b, 0) / perWrite.length, maxPerServerPerWrite: Math.max(...perWrite) };
      },
    }));
    return {
      cases: [
        {
          id: 'fanout-4/redis-messages',
          title: `4 socket servers, each holding the sockets of a quarter of ${built.sessionCount} sessions: messages each server receives from Redis per write`,
          metrics: [
            { key: 'perServerPerWrite', label: 'messages per server per write (mean)', unit: 'msg', better: 'lower' },
            { key: 'maxPerServerPerWrite', label: 'messages per server per write (busiest server)', unit: 'msg', better: 'lower' },
          ],
          variants,
          targets: [{ metric: 'perServerPerWrite', against: CLASSIC, op: '<=', ratio: 0.3, text: 'about a quarter of classic (<= 0.3x)' }],
          warmup: false,
          notes: () => ({ messagesPerServerEachRound: perServerLog }),
        },
      ],
      close: () => built.close(),
    };
  },
};
