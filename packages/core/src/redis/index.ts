/** Where a client enters: told apart once, by what it has, and wrapped in the seam (client.ts). */
import type { Cluster, Redis } from 'ioredis';
import type { NodeRedisClient, NodeRedisCluster, RedisConnection } from './client';
import { IoRedisConnection } from './ioredis';
import { NodeRedisConnection } from './node-redis';

export { flatPairs, isWrongType, type RedisClient, type RedisConnection, type Script, type KeyedCommand, type BatchReply, type SubscriberConnection, type SubscriberEvents } from './client';
export type { NodeRedisClient, NodeRedisCluster } from './client';

export const SUPPORTED_CLIENTS = 'an ioredis (>= 5.4) Redis or Cluster, or a node-redis (redis >= 5) client from createClient() or createCluster()';

/** One seam per client: the scripts an ioredis client has defined are known once. */
const connections = new WeakMap<object, RedisConnection>();

/** The seam over `client`; throws a TypeError naming the supported clients for anything else. */
export function connectionOf(client: unknown): RedisConnection {
  if (typeof client !== 'object' || client === null) throw unsupported(client);
  let connection = connections.get(client);
  if (!connection) {
    connection = wrap(client as Record<string, unknown>);
    connections.set(client, connection);
  }
  return connection;
}

function wrap(client: Record<string, unknown>): RedisConnection {
  if (typeof client.defineCommand === 'function' && typeof client.pipeline === 'function') return new IoRedisConnection(client as unknown as Redis | Cluster);
  if (typeof client.sendCommand === 'function' && typeof client.sSubscribe === 'function') {
    if (typeof client.nodeClient === 'function') return new NodeRedisConnection({ kind: 'cluster', client: client as unknown as NodeRedisCluster });
    if (typeof client.acquire !== 'function') return new NodeRedisConnection({ kind: 'client', client: client as unknown as NodeRedisClient });
    // A Sentinel client (createSentinel) or a pool (createClientPool) has acquire(). node-redis's
    // Sentinel does pub/sub, but never tells when its pub/sub connection reconnected or moved to a
    // new master, so the sockets' sessions could not be reloaded then.
    throw new TypeError(
      `LiveSessionStore does not take a node-redis Sentinel client (createSentinel) or pool (createClientPool): ` +
        `for Sentinel pass an ioredis client (new Redis({ sentinels, name })). It takes ${SUPPORTED_CLIENTS}`,
    );
  }
  throw unsupported(client);
}

function unsupported(client: unknown): TypeError {
  const what = client === null ? 'null' : typeof client === 'object' ? `an object without the methods of either client` : typeof client;
  return new TypeError(`LiveSessionStore needs a Redis client: ${SUPPORTED_CLIENTS}; got ${what}`);
}
