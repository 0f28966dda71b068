/**
 * The Redis client matrix of the test suites: the same suite runs against ioredis and node-redis,
 * on a standalone Redis or a Cluster, through one factory. A TestClient is the app-facing client
 * (handed to the store) plus what the suites need to look at Redis behind its back, whichever
 * library it is.
 */
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import type { ClusterNode } from './cluster';

export type ClientKind = 'ioredis' | 'node-redis';

/** Every client kind, for suites that run once per kind. `REDIS_CLIENTS=ioredis` narrows it. */
export const CLIENT_KINDS: ClientKind[] = (process.env.REDIS_CLIENTS?.split(',') as ClientKind[] | undefined) ?? ['ioredis', 'node-redis'];

const newNodeRedis = (url: string, socket: { reconnectStrategy?: () => number }, disableOfflineQueue: boolean) => createClient({ url, socket, disableOfflineQueue });
const newNodeRedisCluster = (nodes: ClusterNode[], socket: { reconnectStrategy?: () => number }, disableOfflineQueue: boolean) =>
  createCluster({ rootNodes: nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })), defaults: { socket, disableOfflineQueue } });
export type NodeRedisStandalone = ReturnType<typeof newNodeRedis>;
export type NodeRedisClusterClient = ReturnType<typeof newNodeRedisCluster>;
export type AnyTestClient = Redis | Cluster | NodeRedisStandalone | NodeRedisClusterClient;

export interface TestClient {
  kind: ClientKind;
  isCluster: boolean;
  /** The client as an app would create it (connected, with an `error` listener). */
  client: AnyTestClient;
  /** One command naming `key` (routed by it on a Cluster); the raw reply. */
  command(key: string, ...args: (string | number)[]): Promise<unknown>;
  /** A separate connection receiving messages: SSUBSCRIBE when `sharded`, else SUBSCRIBE. */
  subscriber(sharded: boolean, onMessage: (channel: string, message: string) => void): Promise<{ subscribe(channel: string): Promise<void>; close(): Promise<void> }>;
  /** "host:port" of the master holding `key` (a Cluster only). */
  masterOf(key: string): Promise<string>;
  /** Sends a command to every master (the standalone server) and returns their replies. */
  onEveryMaster(...args: string[]): Promise<unknown[]>;
  close(): Promise<void>;
}

export type Where = { url: string } | { cluster: ClusterNode[] };

export interface TestClientOptions {
  /** Reconnect every 100 ms instead of the library's back-off (fault tests). */
  fastReconnect?: boolean;
  /** Fail commands at once while disconnected instead of queueing them. */
  failFast?: boolean;
}

export async function createTestClient(kind: ClientKind, where: Where, options: TestClientOptions = {}): Promise<TestClient> {
  return kind === 'ioredis' ? ioredisClient(where, options) : nodeRedisClient(where, options);
}

async function ioredisClient(where: Where, { fastReconnect, failFast }: TestClientOptions): Promise<TestClient> {
  const redisOptions = {
    ...(fastReconnect ? { retryStrategy: () => 100, maxRetriesPerRequest: null } : {}),
    ...(failFast ? { enableOfflineQueue: false } : {}),
  };
  const client = 'url' in where ? new Redis(where.url, redisOptions) : new Cluster(where.cluster, { redisOptions });
  client.on('error', () => undefined); // reconnects are expected in fault tests
  const nodes = async (): Promise<Redis[]> => {
    if (!(client instanceof Cluster)) return [client];
    if (client.status !== 'ready') await client.ping();
    return client.nodes('master');
  };
  return {
    kind: 'ioredis',
    isCluster: client instanceof Cluster,
    client,
    command: (_key, name, ...args) => client.call(String(name), ...args),
    subscriber: async (sharded, onMessage) => {
      const subscriber = client instanceof Cluster ? client.duplicate([], { shardedSubscribers: sharded }) : client.duplicate();
      subscriber.on('error', () => undefined);
      subscriber.on(sharded ? 'smessage' : 'message', onMessage);
      return {
        subscribe: async (channel) => void (await (sharded ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel))),
        close: async () => subscriber.disconnect(),
      };
    },
    masterOf: async (key) => {
      if (!(client instanceof Cluster)) throw new Error('masterOf: not a Cluster');
      return client.slots[Number(await client.cluster('KEYSLOT', key))][0];
    },
    onEveryMaster: async (name, ...args) => Promise.all((await nodes()).map((node) => node.call(name, ...args))),
    close: async () => client.disconnect(),
  };
}

async function nodeRedisClient(where: Where, { fastReconnect, failFast }: TestClientOptions): Promise<TestClient> {
  const socket = fastReconnect ? { reconnectStrategy: () => 100 } : {};
  if ('url' in where) {
    const client = newNodeRedis(where.url, socket, failFast ?? false);
    client.on('error', () => undefined);
    await client.connect();
    const send = (args: (string | number)[]) => client.sendCommand(args.map(String));
    return {
      kind: 'node-redis',
      isCluster: false,
      client,
      command: (_key, ...args) => send(args),
      subscriber: (sharded, onMessage) => nodeRedisSubscriber(client.duplicate(), sharded, onMessage),
      masterOf: async () => {
        throw new Error('masterOf: not a Cluster');
      },
      onEveryMaster: async (...args) => [await send(args)],
      close: async () => client.destroy(),
    };
  }
  const cluster = newNodeRedisCluster(where.cluster, socket, failFast ?? false);
  cluster.on('error', () => undefined);
  await cluster.connect();
  return {
    kind: 'node-redis',
    isCluster: true,
    client: cluster,
    command: (key, ...args) => cluster.sendCommand(key, false, args.map(String)),
    subscriber: (sharded, onMessage) => nodeRedisSubscriber(cluster.duplicate(), sharded, onMessage),
    masterOf: async (key) => {
      const slot = Number(await cluster.sendCommand(key, true, ['CLUSTER', 'KEYSLOT', key]));
      return cluster.slots[slot].master.address;
    },
    onEveryMaster: async (...args) => Promise.all(cluster.masters.map(async (master) => (await cluster.nodeClient(master)).sendCommand(args))),
    close: async () => cluster.destroy(),
  };
}

/** A node-redis duplicate used as a test's own subscriber (standalone and Cluster alike). */
async function nodeRedisSubscriber(
  subscriber: ReturnType<typeof newNodeRedis> | ReturnType<typeof newNodeRedisCluster>,
  sharded: boolean,
  onMessage: (channel: string, message: string) => void,
) {
  subscriber.on('error', () => undefined);
  await subscriber.connect();
  const listener = (message: string, channel: string) => onMessage(channel, message);
  return {
    subscribe: (channel: string) => (sharded ? subscriber.sSubscribe(channel, listener) : subscriber.subscribe(channel, listener)),
    close: async () => subscriber.destroy(),
  };
}
