/**
 * The seam between the store (and @live-session/socket.io) and the Redis client the app gave:
 * everything ioredis and node-redis do differently, behind one typed interface. store.ts,
 * keyspace.ts and the socket.io subscriber use only `RedisConnection`; ioredis.ts and
 * node-redis.ts implement it, and index.ts picks one, once, where the client enters.
 */
import type { Cluster, Redis } from 'ioredis';

/** A Lua script of lua/: its name, its source and the SHA1 EVALSHA names it by. */
export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

/** One command naming exactly one key, which routes it on a Cluster. */
export type KeyedCommand = { key: string; args: readonly (string | number)[] } | { key: string; script: Script; args: readonly (string | number)[] };

/** The reply of one command of a batch: its error, or its value. */
export type BatchReply = [Error | null, unknown];

/** A connection to one node (a Cluster's master, or the standalone server). */
export interface NodeConnection {
  /** Sends one command as it is (SCAN, PUBSUB, ...). */
  send(args: readonly (string | number)[]): Promise<unknown>;
}

export interface SubscriberEvents {
  /** A message arrived on a subscribed channel (sharded or not, as subscribed). */
  message(channel: string, message: string): void;
  /**
   * The connection is (again) ready. `kept`: the client resubscribed on its own every channel it
   * had (node-redis); false: a new connection with no subscription (ioredis, autoResubscribe off).
   */
  ready(kept: boolean): void;
  /**
   * A Cluster's subscriptions moved to other nodes (a failover) and are confirmed there again:
   * whatever was published in between is lost.
   */
  moved(): void;
  /** The connection closed or is reconnecting: messages may be lost until the next `ready`. */
  lost(): void;
}

/** The subscriber connection: a duplicate of the app's client, for pub/sub only. */
export interface SubscriberConnection {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /**
   * PING on the subscriber connection itself (not on a Cluster, whose subscriptions are spread over
   * one connection per shard): Redis answers a connection in order, so the answer comes after every
   * message it queued to this connection before it read the PING.
   */
  ping?(): Promise<void>;
  close(): Promise<void>;
}

export interface RedisConnection {
  readonly library: 'ioredis' | 'node-redis';
  readonly isCluster: boolean;
  /**
   * Whether the client writes the commands sent in one tick together (ioredis with
   * `enableAutoPipelining`; node-redis always): two plain commands then cost Redis less than one
   * script. Without it, every command is a system call each way, and one script is cheaper.
   */
  readonly batches: boolean;
  /** Makes the scripts known to the client up front (ioredis: defineCommand; node-redis: nothing to do). */
  define(scripts: readonly Script[]): void;
  /** Runs a script of lua/ on `key` (EVALSHA; EVAL after NOSCRIPT). */
  script(script: Script, key: string, args: readonly (string | number)[]): Promise<unknown>;
  /**
   * Any plain command naming one key: `args` is the whole command, e.g. `command(key, ['ZADD', key,
   * score, member])`; `key` routes it on a Cluster. The raw reply: with node-redis on RESP3 (its
   * default from v6) map-shaped replies (HGETALL, ZRANGE ... WITHSCORES) differ from RESP2's flat arrays.
   */
  command(key: string, args: readonly (string | number)[]): Promise<unknown>;
  /**
   * Sends every command at once and gives back each reply in order, never throwing for one
   * command's error. A pipeline never spans two slots on a Cluster.
   */
  batch(commands: readonly KeyedCommand[]): Promise<BatchReply[]>;
  /** The standalone server, or every master of a Cluster (waiting until its slots are known). */
  masters(): Promise<NodeConnection[]>;
  /** Opens the subscriber connection: SSUBSCRIBE/SUNSUBSCRIBE when `sharded`, else SUBSCRIBE/UNSUBSCRIBE. */
  subscriber(sharded: boolean, events: SubscriberEvents): SubscriberConnection;
}

// ---- The clients an app may pass (the `client` option)

/** A listener of a client's events (the store's listeners take no arguments). */
type Listener = (...args: unknown[]) => void;
/** A pub/sub listener of node-redis (strings: not subscribed in buffer mode). */
type MessageListener = (message: string, channel: string) => void;
/** The same listener, as node-redis's unsubscribe types it (for buffers or strings alike). */
type AnyMessageListener = (message: string | Buffer, channel: string | Buffer) => unknown;

/** What the store uses of any node-redis client or Cluster. */
interface NodeRedisPubSub {
  subscribe(channels: string, listener: MessageListener): Promise<unknown>;
  unsubscribe(channels: string, listener: AnyMessageListener): Promise<unknown>;
  sSubscribe(channels: string, listener: MessageListener): Promise<unknown>;
  sUnsubscribe(channels: string, listener: AnyMessageListener): Promise<unknown>;
  connect(): Promise<unknown>;
  destroy(): void;
  on(event: string, listener: Listener): unknown;
  readonly isOpen: boolean;
  readonly isReady: boolean;
}

/**
 * A node-redis (`redis` >= 5) standalone client, `createClient(...)`: the members the store uses,
 * declared here so that an app on ioredis needs no node-redis types (and the other way round).
 */
export interface NodeRedisClient extends NodeRedisPubSub {
  sendCommand(args: string[], options?: NodeRedisCommandOptions): Promise<unknown>;
  duplicate(): NodeRedisClient;
}

/** How node-redis decodes one command's reply (its `typeMapping`, by RESP type code). */
export interface NodeRedisCommandOptions {
  typeMapping?: Record<number, unknown>;
}

/** A master of a node-redis Cluster. */
export interface NodeRedisMaster {
  readonly address: string;
}

/** A node-redis (`redis` >= 5) Cluster client, `createCluster(...)`. */
export interface NodeRedisCluster extends NodeRedisPubSub {
  sendCommand(firstKey: string | undefined, isReadonly: boolean | undefined, args: string[], options?: NodeRedisCommandOptions): Promise<unknown>;
  duplicate(): NodeRedisCluster;
  readonly masters: readonly NodeRedisMaster[];
  nodeClient(node: NodeRedisMaster): Promise<{ sendCommand(args: string[]): Promise<unknown> }>;
}

/** What `client` takes: an ioredis `Redis` or `Cluster`, or a node-redis client or Cluster. */
export type RedisClient = Redis | Cluster | NodeRedisClient | NodeRedisCluster;

/**
 * Redis refused a command (or a script's command) because the key holds another type: a key some
 * other code wrote, such as a connect-redis string. Redis's own reply only, found along the
 * `cause` chain (the store's LiveSessionError keeps it there), never a message of ours that might
 * quote a stored value. Redis 7 starts a script's error with the code; Redis 6 wraps it in
 * "ERR Error running script ...".
 */
export function isWrongType(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (/(^|: )WRONGTYPE Operation against a key/.test(e.message)) return true;
  }
  return false;
}

/**
 * A reply of field/value or member/score pairs as one flat array of strings, whatever its shape:
 * RESP2's flat array (ioredis, node-redis on RESP2), RESP3's map (a Map or an object) or array of
 * pairs (node-redis 6 defaults to RESP3).
 */
export function flatPairs(reply: unknown): string[] {
  // The usual case, on the read's hot path: already flat strings (ioredis; node-redis as the seam asks).
  if (Array.isArray(reply) && (reply.length === 0 || typeof reply[0] === 'string')) return reply as string[];
  if (Array.isArray(reply)) return reply.flat().map(String);
  if (reply instanceof Map) return [...reply].flat().map(String);
  return Object.entries((reply ?? {}) as Record<string, unknown>).flat().map(String);
}

/** Redis does not have the script under this SHA (a restart, SCRIPT FLUSH, a new Cluster node). */
export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}
