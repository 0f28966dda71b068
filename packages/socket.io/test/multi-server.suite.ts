/**
 * The multi-server scenarios, as a suite fed by a factory: two app servers in separate processes
 * sharing one Redis deployment (standalone in multi-server.test.ts, a Cluster in
 * multi-server.cluster.test.ts); real socket.io-client connections carrying the cookie of a real
 * express-session login over HTTP.
 */
import { type ClientKind, startCluster, startRedis, type TestCluster, type TestRedis, waitFor } from '@live-session/test-support';
import Redis, { Cluster } from 'ioredis';
import { type AppServer, login, RecordingSocket, startServers } from './helpers';

export type ChannelKind = 'classic' | 'sharded';

export interface MultiServerTarget {
  /** The environment that tells the app servers (fixtures/server.js) how to reach Redis. */
  env: Record<string, string>;
  /** How the app servers are expected to subscribe: SUBSCRIBE ('classic') or SSUBSCRIBE ('sharded'). */
  kind: ChannelKind;
  /** The session channels with subscribers, by kind, over every node (PUBSUB CHANNELS / SHARDCHANNELS). */
  channels(): Promise<Record<ChannelKind, string[]>>;
  /** Where a session key lives ("host:port" of its master) and how many masters there are: a Cluster only. */
  shards?: { count: number; of(key: string): Promise<string> };
  /** HGET / HSET on a session key behind the app servers' back (no message published). */
  hget(key: string, field: string): Promise<string | null>;
  hset(key: string, ...fieldsAndValues: string[]): Promise<unknown>;
  /** DEL of a key behind the app servers' back (as an operator would). */
  del(key: string): Promise<unknown>;
  /** Where the standalone Redis listens (a Cluster's nodes are found through their topology: none). */
  address?: { host: string; port: number };
  /** CLIENT KILL TYPE pubsub on every node: every subscriber connection drops and reconnects. */
  cutSubscribers(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The suite on one local Cluster of `masters` masters shared by every run of a test file (started
 * on first use, closed by the returned `close`), looked at through an ioredis admin client.
 */
export function clusterTargets(masters: number): { target(kind: ClientKind): Promise<MultiServerTarget>; close(): Promise<void> } {
  let deployment: Promise<{ cluster: TestCluster; admin: Cluster }> | undefined;
  const start = async () => {
    const cluster = await startCluster({ masters });
    const admin = new Cluster(cluster.nodes);
    await admin.ping(); // connected: nodes('master') lists the masters
    return { cluster, admin };
  };
  return {
    async target(kind) {
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
          count: masters,
          of: async (key) => admin.slots[Number(await admin.cluster('KEYSLOT', key))][0],
        },
        hget: (key, field) => admin.hget(key, field),
        hset: (key, ...fieldsAndValues) => admin.hset(key, ...fieldsAndValues),
        del: (key) => admin.del(key),
        cutSubscribers: async () => void (await Promise.all(admin.nodes('master').map((node) => node.call('CLIENT', 'KILL', 'TYPE', 'pubsub')))),
        close: async () => undefined, // the deployment is closed with the file
      };
    },
    async close() {
      const started = await deployment;
      started?.admin.disconnect();
      await started?.cluster.close();
    },
  };
}

/**
 * The suite on one standalone Redis shared by every run of a test file (started on first use,
 * closed by the returned `close`), with `publish` the store option the app servers get.
 */
export function standaloneTargets(publish: 'publish' | 'spublish'): { target(kind: ClientKind): Promise<MultiServerTarget>; close(): Promise<void> } {
  let deployment: Promise<{ redis: TestRedis; admin: Redis }> | undefined;
  return {
    async target(kind) {
      deployment ??= startRedis().then((redis) => ({ redis, admin: new Redis(redis.url) }));
      const { redis, admin } = await deployment;
      return {
        env: { REDIS_URL: redis.url, REDIS_CLIENT: kind, ...(publish === 'spublish' ? { REDIS_PUBLISH: 'spublish' } : {}) },
        kind: publish === 'spublish' ? 'sharded' : 'classic',
        channels: async () => ({
          classic: (await admin.pubsub('CHANNELS', 'live_session:*')) as string[],
          sharded: (await admin.call('PUBSUB', 'SHARDCHANNELS', 'live_session:*')) as string[],
        }),
        hget: (key, field) => admin.hget(key, field),
        hset: (key, ...fieldsAndValues) => admin.hset(key, ...fieldsAndValues),
        del: (key) => admin.del(key),
        address: { host: redis.host, port: redis.port },
        cutSubscribers: async () => void (await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')),
        close: async () => undefined, // the deployment is closed with the file
      };
    },
    async close() {
      const started = await deployment;
      started?.admin.disconnect();
      await started?.redis.close();
    },
  };
}

export function multiServerSuite(name: string, factory: () => Promise<MultiServerTarget>): void {
  describe(`two app servers (${name})`, () => {
    let target: MultiServerTarget;
    let A: AppServer;
    let B: AppServer;
    const sockets: RecordingSocket[] = [];

    async function open(server: AppServer, cookie: string | undefined, options = {}): Promise<RecordingSocket> {
      const socket = await RecordingSocket.open(server.url, cookie, options);
      sockets.push(socket);
      return socket;
    }

    beforeAll(async () => {
      target = await factory();
      [A, B] = await startServers(2, target.env);
    });

    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.close();
    });

    afterAll(async () => {
      await Promise.all([A?.stop(), B?.stop()]);
      await target?.close();
    });

    test('an HTTP write on server A reaches a socket on server B, and its server-side handler', async () => {
      const alice = await login(A, 'alice');
      const socket = await open(B, alice.cookieHeader);
      await socket.until((s) => s.user === 'alice', 'the initial session');

      await alice.post('/set', { key: 'cart', value: [1] });

      await socket.until((s) => JSON.stringify(s.cart) === '[1]', 'the cart written on A');
      await waitFor(() => socket.handlerCalls.find((call) => 'cart' in call.change.set));
      const call = socket.handlerCalls.find((c) => 'cart' in c.change.set)!;
      expect(call.server).toBe('B');
      expect(call.change).toEqual({ version: expect.any(Number), set: { cart: [1] }, unset: [] });
      // The secret (a CSRF token, say) is in the session but the app did not expose it.
      expect(socket.updates.every((update) => !('secret' in update))).toBe(true);
      expect(socket.updates.every((update) => !('cookie' in update))).toBe(true);
    });

    test('a socket write on server B is seen by the next HTTP request on server A', async () => {
      const bob = await login(A, 'bob');
      const socket = await open(B, bob.cookieHeader);
      await socket.until((s) => s.user === 'bob');

      expect(await socket.emit('put', { key: 'theme', value: 'dark' })).toEqual({ ok: true });

      const { body } = await bob.get('/session');
      expect(body.data).toMatchObject({ user: 'bob', theme: 'dark' });
      await socket.until((s) => s.theme === 'dark', 'its own write echoed to the socket');
    });

    test('concurrent atomic appends from sockets on both servers all survive', async () => {
      const carol = await login(A, 'carol');
      const onA = await open(A, carol.cookieHeader);
      const onB = await open(B, carol.cookieHeader);
      await Promise.all([onA.until((s) => s.user === 'carol'), onB.until((s) => s.user === 'carol')]);

      const acks = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? onA : onB).emit('append', { key: 'cart', item: i })),
      );

      expect(acks.every((ack) => (ack as { ok: boolean }).ok)).toBe(true);
      const { body } = await carol.get('/session');
      expect([...body.data.cart].sort((x: number, y: number) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
      for (const socket of [onA, onB]) await socket.until((s) => (s.cart as number[] | undefined)?.length === 40, 'all 40 items');
    });

    test('a destroy (logout) on server A reaches the sockets of that session on both servers', async () => {
      const dave = await login(A, 'dave');
      const onA = await open(A, dave.cookieHeader);
      const onB = await open(B, dave.cookieHeader);
      const handlerDestroys: string[] = [];
      for (const s of [onA, onB]) s.socket.on('test:handler-destroy', ({ server }) => handlerDestroys.push(server));
      await Promise.all([onA.until((s) => s.user === 'dave'), onB.until((s) => s.user === 'dave')]);

      await dave.post('/logout');

      await waitFor(() => onA.destroys === 1 && onB.destroys === 1, { what: 'the destroy event on both servers' });
      await waitFor(() => handlerDestroys.length === 2);
      expect(handlerDestroys.sort()).toEqual(['A', 'B']);
      expect(await onB.emit('whoami')).toEqual({ user: null, data: null });
    });

    test('a regenerate (login again) does not carry old sockets over to the new session', async () => {
      const erin = await login(A, 'erin');
      const old = await open(B, erin.cookieHeader);
      await old.until((s) => s.user === 'erin');

      await erin.post('/login', { user: 'erin-again' }); // regenerate: a new id, the old one destroyed
      await waitFor(() => old.destroys === 1, { what: 'the old socket to get the destroy' });

      // A socket of the new session on the same server: once it has the next change, the old one
      // would have it too if it were still subscribed.
      const fresh = await open(B, erin.cookieHeader);
      await fresh.until((s) => s.user === 'erin-again');
      const updatesBefore = old.updates.length;
      await erin.post('/set', { key: 'cart', value: ['new'] });
      await fresh.until((s) => JSON.stringify(s.cart) === '["new"]');
      expect(old.updates.length).toBe(updatesBefore);
      expect(old.updates.some((update) => update.user === 'erin-again')).toBe(false);
      expect(await old.emit('whoami')).toEqual({ user: null, data: null });
    });

    test('many sessions at once: a write on A reaches the socket of every session on B', async () => {
      const users: string[] = [];
      const clients: Awaited<ReturnType<typeof login>>[] = [];
      const shards = new Set<unknown>();
      // 12 sessions; on a Cluster, more until they live on every master (random ids), or this proves little.
      while (clients.length < 12 || (target.shards && shards.size < target.shards.count && clients.length < 60)) {
        const batch = Array.from({ length: 6 }, (_, i) => `user-${users.length + i}`);
        users.push(...batch);
        const logged = await Promise.all(batch.map((user) => login(A, user)));
        clients.push(...logged);
        if (target.shards) {
          const ids = await Promise.all(logged.map(async (client) => (await client.get('/session')).body.id as string));
          for (const shard of await Promise.all(ids.map((id) => target.shards!.of(`live_session:${id}`)))) shards.add(shard);
        }
      }
      if (target.shards) expect(shards.size).toBe(target.shards.count);
      const onB = await Promise.all(clients.map((client) => open(B, client.cookieHeader)));
      await Promise.all(onB.map((socket, i) => socket.until((s) => s.user === users[i])));

      await Promise.all(clients.map((client, i) => client.post('/set', { key: 'n', value: i })));

      await Promise.all(onB.map((socket, i) => socket.until((s) => s.n === i, `the write of ${users[i]}`)));
    });

    test('a change whose message was lost reaches every socket once the subscriber connections come back', async () => {
      // The change is written with its version but never published (its message lost), then every
      // subscriber connection is cut: only the reload of the local sessions after resubscribing
      // (however the client library resubscribes) brings it to the sockets.
      const users = ['gina', 'hank', 'iris', 'jack'];
      const clients = await Promise.all(users.map((user) => login(A, user)));
      const onB = await Promise.all(clients.map((client) => open(B, client.cookieHeader)));
      await Promise.all(onB.map((socket, i) => socket.until((s) => s.user === users[i])));
      for (const client of clients) {
        const key = `live_session:${(await client.get('/session')).body.id as string}`;
        const version = Number(await target.hget(key, '$v'));
        await target.hset(key, 'silent', '"lost message"', '$v', String(version + 1));
      }
      await target.cutSubscribers();
      await Promise.all(onB.map((socket) => socket.until((s) => s.silent === 'lost message', 'the change whose message was lost')));
    });

    test('no leaks: once every socket has left, no server is subscribed to any session channel', async () => {
      const other: ChannelKind = target.kind === 'classic' ? 'sharded' : 'classic';
      const frank = await login(A, 'frank');
      const socketsOfFrank = await Promise.all([open(A, frank.cookieHeader), open(B, frank.cookieHeader), open(B, frank.cookieHeader)]);
      await Promise.all(socketsOfFrank.map((s) => s.until((v) => v.user === 'frank')));
      const channels = await target.channels();
      expect(channels[target.kind].length).toBeGreaterThan(0);
      expect(channels[other]).toEqual([]);

      for (const socket of sockets.splice(0)) socket.close();

      await waitFor(async () => (await target.channels())[target.kind].length === 0, { what: 'every channel to be unsubscribed' });
      expect((await target.channels())[other]).toEqual([]);
      for (const server of [A, B]) {
        const response = await fetch(`${server.url}/debug/channels`);
        expect(await response.json()).toEqual({ channels: [] });
      }
    });
  });
}
