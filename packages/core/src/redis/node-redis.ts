/**
 * The seam (client.ts) over a node-redis (`redis` >= 5) client or Cluster. Scripts go as EVALSHA,
 * then EVAL after NOSCRIPT (node-redis's own scripts must be declared when the client is created,
 * which the app does, not us). node-redis pipelines every command sent in the same tick by itself,
 * so a batch is commands sent at once, each routed by its own key on a Cluster.
 */
import type { BatchReply, KeyedCommand, NodeConnection, NodeRedisClient, NodeRedisCluster, RedisConnection, Script, SubscriberConnection, SubscriberEvents } from './client';
import { isNoScript } from './client';

type Args = readonly (string | number)[];

/**
 * Every command's reply decoded the same way whatever the app configured on its client: strings
 * for bulk strings, and a RESP3 map (HGETALL) as a flat [field, value, ...] array, as RESP2 gives
 * it. node-redis's default decodes a map into a plain object, where a field named "__proto__"
 * would set the object's prototype instead of appearing. 37 is RESP_TYPES.MAP ('%').
 */
const REPLIES = { typeMapping: { 37: Array } };

/** After a node is ready again: long enough for node-redis to have sent its own resubscriptions. */
const CONFIRM_DELAY_MS = 10;
/** Between tries while channels cannot be confirmed (the Cluster is still failing over). */
const CONFIRM_RETRY_MS = 250;

export class NodeRedisConnection implements RedisConnection {
  readonly library = 'node-redis';
  readonly isCluster: boolean;
  readonly batches = true;
  private readonly send: (key: string, args: string[]) => Promise<unknown>;

  constructor(private readonly client: { kind: 'client'; client: NodeRedisClient } | { kind: 'cluster'; client: NodeRedisCluster }) {
    this.isCluster = client.kind === 'cluster';
    if (client.kind === 'cluster') {
      const cluster = client.client;
      this.send = (key, args) => cluster.sendCommand(key, false, args, REPLIES);
    } else {
      const standalone = client.client;
      this.send = (_key, args) => standalone.sendCommand(args, REPLIES);
    }
  }

  /** EVALSHA, and EVAL after NOSCRIPT, need nothing up front (defineScript only works at createClient). */
  define(): void {}

  script(script: Script, key: string, args: Args): Promise<unknown> {
    const tail = ['1', key, ...strings(args)];
    return this.send(key, ['EVALSHA', script.sha, ...tail]).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return this.send(key, ['EVAL', script.source, ...tail]); // also caches it for the next EVALSHA
    });
  }

  command(key: string, args: Args): Promise<unknown> {
    return this.send(key, strings(args));
  }

  batch(commands: readonly KeyedCommand[]): Promise<BatchReply[]> {
    return Promise.all(
      commands.map((command) =>
        ('script' in command ? this.script(command.script, command.key, command.args) : this.command(command.key, command.args)).then(
          (reply): BatchReply => [null, reply],
          (err: unknown): BatchReply => [err instanceof Error ? err : new Error(String(err)), null],
        ),
      ),
    );
  }

  async masters(): Promise<NodeConnection[]> {
    if (this.client.kind === 'client') {
      const standalone = this.client.client;
      return [{ send: (args) => standalone.sendCommand(strings(args)) }];
    }
    const cluster = this.client.client;
    // Before connect() the Cluster knows no master: SCAN would find nothing rather than fail.
    if (!cluster.isOpen) throw new Error('the node-redis Cluster client is not open: call `await client.connect()` before using the store');
    const clients = await Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)));
    return clients.map((node) => ({ send: (args) => node.sendCommand(strings(args)) }));
  }

  subscriber(sharded: boolean, events: SubscriberEvents): SubscriberConnection {
    return this.client.kind === 'cluster' ? clusterSubscriber(this.client.client, sharded, events) : clientSubscriber(this.client.client, sharded, events);
  }
}

/**
 * node-redis resubscribes by itself after a reconnect, before it reports `ready`: so every `ready`
 * means "connected, with every channel subscribed again".
 */
function clientSubscriber(client: NodeRedisClient, sharded: boolean, events: SubscriberEvents): SubscriberConnection {
  const connection = client.duplicate();
  const listener = (message: string | Buffer, channel: string | Buffer) => events.message(String(channel), String(message));
  connection.on('error', () => undefined); // reconnects by itself; commands report their own failures
  connection.on('ready', () => events.ready(true));
  for (const event of ['reconnecting', 'end']) connection.on(event, () => events.lost());
  connection.connect().catch(() => undefined); // the reconnect strategy gave up: subscribe calls fail
  return {
    subscribe: async (channel) => void (await (sharded ? connection.sSubscribe(channel, listener) : connection.subscribe(channel, listener))),
    unsubscribe: async (channel) => void (await (sharded ? connection.sUnsubscribe(channel, listener) : connection.unsubscribe(channel, listener))),
    ping: async () => void (await connection.sendCommand(['PING'])),
    close: async () => connection.destroy(),
  };
}

/**
 * A Cluster duplicate: node-redis keeps one sharded subscriber per master, resubscribes a node's
 * channels when that node reconnects, and moves them to the new master after a failover, without
 * telling when that is done. So after a node reconnected (or failed), once a node is ready again,
 * every channel is subscribed once more through the Cluster (a channel still subscribed answers at
 * once; one whose subscription is moving waits for Redis's confirmation), and then reported moved.
 */
function clusterSubscriber(cluster: NodeRedisCluster, sharded: boolean, events: SubscriberEvents): SubscriberConnection {
  const connection = cluster.duplicate();
  const own = new Set<string>();
  const listener = (message: string | Buffer, channel: string | Buffer) => events.message(String(channel), String(message));
  const subscribe = (channel: string) => (sharded ? connection.sSubscribe(channel, listener) : connection.subscribe(channel, listener));
  let disrupted = false;
  let confirming: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = (ms: number) => {
    if (!confirming && !closed) confirming = setTimeout(confirm, ms);
  };
  const confirm = () => {
    confirming = undefined;
    if (closed || !disrupted) return;
    disrupted = false;
    void Promise.allSettled([...own].map((channel) => subscribe(channel))).then((results) => {
      if (closed) return;
      // Not every channel could be confirmed (the Cluster is still failing over): try again.
      if (results.some((result) => result.status === 'rejected')) {
        disrupted = true;
        schedule(CONFIRM_RETRY_MS);
      } else {
        events.moved();
      }
    });
  };
  connection.on('error', () => undefined);
  for (const event of ['node-reconnecting', 'node-error']) connection.on(event, () => (disrupted = true));
  connection.on('node-ready', () => {
    if (disrupted) schedule(CONFIRM_DELAY_MS);
  });
  // node-redis could not move a channel's subscription after a slot moved, and dropped it.
  connection.on('sharded-channel-moved-error', () => {
    disrupted = true;
    schedule(CONFIRM_RETRY_MS);
  });
  connection.connect().then(
    () => events.ready(true),
    () => undefined,
  );
  return {
    subscribe: async (channel) => {
      await subscribe(channel);
      own.add(channel);
    },
    unsubscribe: async (channel) => {
      own.delete(channel);
      await (sharded ? connection.sUnsubscribe(channel, listener) : connection.unsubscribe(channel, listener));
    },
    close: async () => {
      closed = true;
      clearTimeout(confirming);
      connection.destroy();
    },
  };
}

function strings(args: Args): string[] {
  return args.map(String);
}
