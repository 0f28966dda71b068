/**
 * The multi-server scenarios (multi-server.suite.ts) against a local 3-master Redis Cluster: the
 * store publishes with SPUBLISH, each app server SSUBSCRIBEs through a sharded subscriber, and
 * nothing is left subscribed on any master.
 */
import { startCluster } from '@live-session/test-support';
import { Cluster } from 'ioredis';
import { multiServerSuite } from './multi-server.suite';

const MASTERS = 3;

multiServerSuite('Redis Cluster, 3 masters', async () => {
  const cluster = await startCluster({ masters: MASTERS });
  const client = new Cluster(cluster.nodes);
  /** PUBSUB <subcommand> on every master, merged: each node only knows its own subscribers. */
  const onEveryMaster = async (subcommand: string) =>
    (await Promise.all(client.nodes('master').map((node) => node.call('PUBSUB', subcommand, 'live_session:*') as Promise<string[]>))).flat();
  await client.ping(); // connected: nodes('master') lists the masters
  return {
    env: { REDIS_CLUSTER_NODES: cluster.nodeList },
    kind: 'sharded',
    channels: async () => ({ classic: await onEveryMaster('CHANNELS'), sharded: await onEveryMaster('SHARDCHANNELS') }),
    shards: {
      count: MASTERS,
      of: async (key) => client.slots[Number(await client.cluster('KEYSLOT', key))][0],
    },
    close: async () => {
      client.disconnect();
      await cluster.close();
    },
  };
});
