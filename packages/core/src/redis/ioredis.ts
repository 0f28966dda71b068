/** The seam (client.ts) over an ioredis `Redis` or `Cluster`. */
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { once } from 'node:events';
import type { BatchReply, KeyedCommand, NodeConnection, RedisConnection, Script, SubscriberConnection, SubscriberEvents } from './client';

/** A script command defineCommand added; its arguments go as one array, which ioredis flattens (a spread of 100,000 overflows the call stack). */
type ScriptCall = (key: string, args: readonly (string | number)[]) => Promise<unknown>;

export class IoRedisConnection implements RedisConnection {
  readonly library = 'ioredis';
  readonly isCluster: boolean;
  readonly batches: boolean;
  /** Scripts registered with defineCommand: ioredis sends EVALSHA and falls back to EVAL itself. */
  private readonly defined = new Set<string>();

  constructor(private readonly client: Redis | Cluster) {
    this.isCluster = client.isCluster;
    this.batches = client.options.enableAutoPipelining === true;
  }

  define(scripts: readonly Script[]): void {
    for (const script of scripts) this.defineOne(script);
  }

  script(script: Script, key: string, args: readonly (string | number)[]): Promise<unknown> {
    this.defineOne(script);
    return (this.client as unknown as Record<string, ScriptCall>)[script.name](key, args);
  }

  command(_key: string, args: readonly (string | number)[]): Promise<unknown> {
    return this.client.call(String(args[0]), args.slice(1));
  }

  async batch(commands: readonly KeyedCommand[]): Promise<BatchReply[]> {
    // One pipeline on a standalone Redis; on a Cluster one per key (all sent at once).
    const groups = this.isCluster ? groupByKey(commands) : [commands.map((_, i) => i)];
    const replies: BatchReply[] = new Array(commands.length);
    await Promise.all(
      groups.map(async (indexes) => {
        // Defined before the pipeline is made: a pipeline copies the client's scripts when created.
        for (const i of indexes) if ('script' in commands[i]) this.defineOne((commands[i] as { script: Script }).script);
        const pipeline = this.client.pipeline();
        for (const i of indexes) this.queue(pipeline, commands[i]);
        const results = (await pipeline.exec()) ?? [];
        indexes.forEach((index, j) => (replies[index] = results[j] ?? [new Error('no reply'), null]));
      }),
    );
    return replies;
  }

  async masters(): Promise<NodeConnection[]> {
    const nodes = this.isCluster ? await mastersOf(this.client as Cluster) : [this.client as Redis];
    return nodes.map((node) => ({ send: ([name, ...rest]) => node.call(String(name), ...rest) }));
  }

  subscriber(sharded: boolean, events: SubscriberEvents): SubscriberConnection {
    // autoResubscribe off: ChannelSubscriber resubscribes itself, so it knows when that is done.
    // Auto-pipelining off (the app's client may have it, as the README recommends): ioredis keeps
    // SUBSCRIBE out of its auto-pipelines, but not SSUBSCRIBE, and a subscriber has nothing to batch.
    const connection = this.client.isCluster
      ? (this.client as Cluster).duplicate([], {
          shardedSubscribers: sharded,
          enableAutoPipelining: false,
          redisOptions: { ...(this.client as Cluster).options.redisOptions, autoResubscribe: false },
        })
      : (this.client as Redis).duplicate({ autoResubscribe: false, enableAutoPipelining: false });
    connection.on(sharded ? 'smessage' : 'message', (channel: string, message: string) => events.message(channel, message));
    connection.on('error', () => undefined); // reconnects by itself; commands report their own failures
    connection.on('ready', () => events.ready(false));
    connection.on('close', () => events.lost());
    // A Cluster's sharded subscribers follow slot moves (a failover) and subscribe again by themselves.
    if (this.client.isCluster && sharded) connection.on('subscribersReady', () => events.moved());
    return {
      subscribe: async (channel) => void (await (sharded ? connection.ssubscribe(channel) : connection.subscribe(channel))),
      unsubscribe: async (channel) => void (await (sharded ? connection.sunsubscribe(channel) : connection.unsubscribe(channel))),
      ...(this.client.isCluster ? {} : { ping: async () => void (await (connection as Redis).ping()) }),
      close: async () => connection.disconnect(),
    };
  }

  private queue(pipeline: ChainableCommander, command: KeyedCommand): void {
    if ('script' in command) (pipeline as unknown as Record<string, ScriptCall>)[command.script.name](command.key, command.args);
    else pipeline.call(String(command.args[0]), command.args.slice(1));
  }

  private defineOne(script: Script): void {
    if (this.defined.has(script.name)) return;
    this.client.defineCommand(script.name, { numberOfKeys: 1, lua: script.source });
    this.defined.add(script.name);
  }
}

/** The indexes of the commands, grouped by the key they name. */
export function groupByKey(commands: readonly KeyedCommand[]): number[][] {
  const groups = new Map<string, number[]>();
  commands.forEach(({ key }, i) => {
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  });
  return [...groups.values()];
}

/** The masters of a Cluster; before it is ready (slots unknown) ioredis lists none, so wait for that. */
async function mastersOf(cluster: Cluster): Promise<Redis[]> {
  if (cluster.status !== 'ready') await once(cluster, 'ready');
  return cluster.nodes('master');
}
