/**
 * Fan-out on a Redis Cluster (issue 6): a local 3-master cluster (startCluster), 4 socket servers and a
 * separate writer, each with its own ioredis `Cluster` connection(s); session i's sockets on server
 * i % 4, the sessions' channels spread over the slots of all 3 masters.
 *    ours: LiveSessionStore on a Cluster publishes with SPUBLISH from its write script; createLiveSession
 *          SSUBSCRIBEs per session through a Cluster duplicated with `shardedSubscribers: true`.
 *    anchor: connect-redis + createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' }) on Cluster
 *          clients (sub with `shardedSubscribers: true`): SPUBLISH on one channel per room.
 * Per write: messages each server's subscriber connection received from Redis (as fanout-4), and
 * messages each shard handled: the delta of `cmdstat_spublish` + `cmdstat_publish` calls in each
 * master's `INFO commandstats` (commands run by a Lua script are counted too). Both are exact counts;
 * the shard counts are checked to add up to the writes.
 */
import { startCluster, type TestCluster } from '@live-session/test-support';
import { Cluster, Redis } from 'ioredis';
import { buildFleets, type Kind, phase, SHARDED, skipUnlessBuilt } from './fleet';
import { OURS } from './stores';
import type { Benchmark, Context, MetricDef, Variant } from './types';

const SERVERS = 4;

/** Publish commands each master has run so far (SPUBLISH + PUBLISH, from clients or scripts). */
async function publishesPerMaster(masters: Redis[]): Promise<number[]> {
  return Promise.all(
    masters.map(async (master) => {
      const stats = await master.info('commandstats');
      const calls = (command: string) => Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
      return calls('spublish') + calls('publish');
    }),
  );
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

export const fanoutCluster: Benchmark = {
  name: 'fanout-cluster',
  async setup(ctx: Context) {
    skipUnlessBuilt();
    let cluster: TestCluster | undefined;
    const masters: Redis[] = [];
    let built: Awaited<ReturnType<typeof buildFleets>> | undefined;
    const close = async () => {
      await built?.close();
      await Promise.all(masters.map((m) => m.quit().catch(() => undefined)));
      await cluster?.close();
    };
    try {
      cluster = await startCluster({ masters: 3 });
      const nodes = cluster.nodes;
      for (const node of await cluster.masters()) masters.push(new Redis(node.port, node.host, { maxRetriesPerRequest: 1 }));
      const kinds: Kind[] = [OURS, SHARDED];
      built = await buildFleets(ctx, SERVERS, 'fanoutcluster', kinds, () => new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } }));
    } catch (err) {
      await close();
      throw err;
    }
    const fleets = built;
    const perServerLog: Record<string, number[][]> = {};
    const perShardLog: Record<string, number[][]> = {};
    const variants: Variant[] = ([OURS, SHARDED] as Kind[]).map((kind) => ({
      name: kind,
      async run() {
        const sids = fleets.sidsOf.get(kind)!;
        const writes = sids.length * (ctx.quick ? 1 : 4);
        const before = await publishesPerMaster(masters);
        const r = await phase(fleets.fleets.get(kind)!, sids, fleets.perSession, 1, 120_000, writes);
        const after = await publishesPerMaster(masters);
        if (r.lost) throw new Error(`${kind}: ${r.lost} of ${r.expected} deliveries lost`);
        const perShard = after.map((n, i) => n - before[i]);
        const published = perShard.reduce((a, b) => a + b, 0);
        if (published !== r.writes) throw new Error(`${kind}: the masters counted ${published} publishes for ${r.writes} writes (${perShard.join(', ')})`);
        const heard = r.perServer.reduce((a, b) => a + b, 0);
        if (heard !== r.writes) throw new Error(`${kind}: the servers' subscribers received ${heard} messages for ${r.writes} writes`);
        if (perShard.some((n) => n === 0)) throw new Error(`${kind}: a master published nothing (${perShard.join(', ')}): the sessions do not cover every shard`);
        (perServerLog[kind] ??= []).push(r.perServer);
        (perShardLog[kind] ??= []).push(perShard);
        const perServerPerWrite = r.perServer.map((n) => n / r.writes);
        const perShardPerWrite = perShard.map((n) => n / r.writes);
        return {
          perServerPerWrite: mean(perServerPerWrite),
          maxPerServerPerWrite: Math.max(...perServerPerWrite),
          perShardPerWrite: mean(perShardPerWrite),
          maxPerShardPerWrite: Math.max(...perShardPerWrite),
          deliveriesPerSecond: r.deliveriesPerSecond,
          p50: r.p50,
          p99: r.p99,
        };
      },
    }));
    const metrics: MetricDef[] = [
      { key: 'perServerPerWrite', label: 'messages per server per write (mean)', unit: 'msg', better: 'lower' },
      { key: 'maxPerServerPerWrite', label: 'messages per server per write (busiest server)', unit: 'msg', better: 'lower' },
      { key: 'perShardPerWrite', label: 'publishes per shard per write (mean)', unit: 'msg', better: 'lower' },
      { key: 'maxPerShardPerWrite', label: 'publishes per shard per write (busiest shard)', unit: 'msg', better: 'lower' },
      { key: 'deliveriesPerSecond', label: 'deliveries/s (one sequential writer)', unit: '/s', better: 'higher' },
      { key: 'p50', label: 'p50 write->client', unit: 'ms', better: 'lower' },
      { key: 'p99', label: 'p99 write->client', unit: 'ms', better: 'lower' },
    ];
    return {
      cases: [
        {
          id: 'fanout-cluster/redis-messages',
          title: `3-master Redis Cluster, ${SERVERS} socket servers each holding the sockets of a quarter of ${fleets.sessionCount} sessions, a separate writer: messages each server and each shard handle per write`,
          metrics,
          variants,
          notes: () => ({
            shardCounter: 'INFO commandstats of each master: delta of cmdstat_spublish + cmdstat_publish calls (Lua-issued SPUBLISH included); checked to add up to the writes',
            messagesPerServerEachRound: perServerLog,
            publishesPerShardEachRound: perShardLog,
          }),
        },
      ],
      close,
    };
  },
};
