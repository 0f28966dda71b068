/**
 * The multi-server scenarios (multi-server.suite.ts) against a local 3-master Redis Cluster, once
 * per client library: the store publishes with SPUBLISH, each app server SSUBSCRIBEs through a
 * sharded subscriber, and nothing is left subscribed on any master.
 */
import { CLIENT_KINDS, startCluster, type TestCluster } from '@live-session/test-support';
import { Cluster } from 'ioredis';
import { multiServerSuite } from './multi-server.suite';

const MASTERS = 3;

/** One Cluster for the file (starting one takes seconds), looked at through an ioredis admin client. */
let deployment: Promise<{ cluster: TestCluster; admin: Cluster }> | undefined;
afterAll(async () => {
  const started = await deployment;
  started?.admin.disconnect();
  await started?.cluster.close();
});

async function start(): Promise<{ cluster: TestCluster; admin: Cluster }> {
  const cluster = await startCluster({ masters: MASTERS });
  const admin = new Cluster(cluster.nodes);
  await admin.ping(); // connected: nodes('master') lists the masters
  return { cluster, admin };
}

for (const kind of CLIENT_KINDS) {
  multiServerSuite(`Redis Cluster, 3 masters, ${kind}`, async () => {
    deployment ??= start();
    const { cluster, admin } = await deployment;
    /** PUBSUB <subcommand> on every master, merged: each node only knows its own subscribers. */
    const onEveryMaster = async (subcommand: string) =>
      (await Promise.all(admin.nodes('master').map((node) => node.call('PUBSUB', subcommand, 'live_session:*') as Promise<string[]>))).flat();
    return {
      env: { REDIS_CLUSTER_NODES: cluster.nodeList, REDIS_CLIENT: kind },
      kind: 'sharded',
      channels: async () => ({ classic: await onEveryMaster('CHANNELS'), sharded: await onEveryMaster('SHARDCHANNELS') }),
      shards: {
        count: MASTERS,
        of: async (key) => admin.slots[Number(await admin.cluster('KEYSLOT', key))][0],
      },
      hget: (key, field) => admin.hget(key, field),
      hset: (key, ...fieldsAndValues) => admin.hset(key, ...fieldsAndValues),
      cutSubscribers: async () => void (await Promise.all(admin.nodes('master').map((node) => node.call('CLIENT', 'KILL', 'TYPE', 'pubsub')))),
      close: async () => undefined, // the deployment is closed with the file
    };
  });
}
