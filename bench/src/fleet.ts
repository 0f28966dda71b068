/**
 * The pieces every fan-out benchmark shares: a deployment of socket.io servers of one kind (ours, or
 * connect-redis + @socket.io/redis-adapter) on a Redis or a Redis Cluster, socket.io-clients connected
 * to the server holding their session, and one measured phase of writes (latency, deliveries/s, lost
 * deliveries, messages each server's subscriber connection received from Redis).
 */
import type { LiveSessionStore } from '@live-session/core';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import session from 'express-session';
import type { Cluster, Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { createHmac } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { Latencies, sleep } from './stats';
import { CONNECT_REDIS, createStore, DAY, newClient as defaultClient, OURS, populate, sids as makeSids, smallSession, type StoreName } from './stores';
import type { Context } from './types';

const SECRET = 'bench-secret';
const EVENT = 'live_session:update';
export const CLASSIC = 'redis-adapter (classic)';
export const SHARDED = 'redis-adapter (sharded, dynamic)';
export type Kind = typeof OURS | typeof CLASSIC | typeof SHARDED;

function socketIoPackageBuilt(): boolean {
  try {
    return existsSync(require.resolve('@live-session/socket.io'));
  } catch {
    return false;
  }
}

export function skipUnlessBuilt(): void {
  if (!socketIoPackageBuilt()) {
    throw Object.assign(new Error('@live-session/socket.io is not built (packages/socket.io/dist/index.js): run `npm run build`'), { code: 'BENCH_SKIP' });
  }
}

/** express-session's signed cookie for a session id (cookie-signature: HMAC-SHA256, base64 without padding). */
function cookieFor(sid: string): string {
  const signed = `s:${sid}.${createHmac('sha256', SECRET).update(sid).digest('base64').replace(/=+$/, '')}`;
  return `sid=${encodeURIComponent(signed)}`;
}

/** A socket.io server on its own HTTP port, with express-session shared the standard way. */
interface IoServer {
  io: Server;
  http: HttpServer;
  port: number;
  clients: (Redis | Cluster)[];
  close(): Promise<void>;
}

/** A deployment of one kind: a writer server A and `serverCount` servers holding the sockets. */
export interface Deployment {
  kind: Kind;
  /** Writes `cart` to the session and gets it to its sockets. */
  write(sid: string, cart: number[]): Promise<void>;
  /** Messages each socket-holding server's subscriber connection has received from Redis. */
  received: number[];
  servers: IoServer[];
  close(): Promise<void>;
}

async function listen(http: HttpServer): Promise<number> {
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return (http.address() as AddressInfo).port;
}

/** Counts every pub/sub message a subscriber connection receives (any kind). */
function countMessages(connection: Redis | Cluster, received: number[], index: number): void {
  for (const event of ['messageBuffer', 'smessageBuffer', 'pmessageBuffer']) connection.on(event, () => received[index]++);
}

/** Makes a new connection (a Redis, or a Cluster) to the Redis under test: one per store and server. */
export type Connect = () => Redis | Cluster;

async function deploy(kind: Kind, newClient: Connect, prefix: string, serverCount: number): Promise<Deployment> {
  const storeName: StoreName = kind === OURS ? OURS : CONNECT_REDIS;
  const received = Array.from({ length: serverCount }, () => 0);
  const servers: IoServer[] = [];
  // Server 0 is A, the writer (no sockets); servers 1..serverCount hold the sockets.
  let writer: (sid: string, cart: number[]) => Promise<void> = async () => undefined;
  for (let i = 0; i <= serverCount; i++) {
    const client = newClient();
    const clients: (Redis | Cluster)[] = [client];
    const store = createStore(storeName, client, prefix);
    const http = createServer();
    const io = new Server(http, { transports: ['websocket'], serveClient: false });
    const sessionMiddleware = session({ store, secret: SECRET, name: 'sid', resave: false, saveUninitialized: false, cookie: { maxAge: DAY } });
    io.engine.use(sessionMiddleware);
    const closers: (() => Promise<unknown>)[] = [];
    if (kind === OURS) {
      const { createLiveSession } = await import('@live-session/socket.io');
      if (i > 0) {
        // Capture the subscriber connection the LiveSession duplicates from the store's client.
        // (On a Cluster that is a Cluster with sharded subscribers, which re-emits their `smessage`s.)
        const duplicate = (client.duplicate as (...args: unknown[]) => Redis | Cluster).bind(client);
        client.duplicate = ((...args: unknown[]) => {
          const connection = duplicate(...args);
          countMessages(connection, received, i - 1);
          clients.push(connection);
          return connection;
        }) as typeof client.duplicate;
        const live = createLiveSession(io, { store: store as LiveSessionStore, expose: (s) => ({ cart: s.cart }) });
        io.use(live.middleware);
        closers.push(() => live.close());
      } else {
        writer = async (sid, cart) => void (await (store as LiveSessionStore).putSession(sid, 'cart', cart));
      }
    } else {
      // ioredis 6: a Cluster only SSUBSCRIBEs (to the node owning each channel's slot) with shardedSubscribers.
      const cluster = client.isCluster ? (client as Cluster) : undefined;
      const pub = cluster ? cluster.duplicate() : (client as Redis).duplicate();
      const sub = cluster ? cluster.duplicate([], { shardedSubscribers: kind === SHARDED }) : (client as Redis).duplicate();
      clients.push(pub, sub);
      if (i > 0) countMessages(sub, received, i - 1);
      io.adapter(kind === CLASSIC ? createAdapter(pub, sub) : createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' }));
      io.on('connection', (socket) => {
        const sid = (socket.request as unknown as { session?: session.Session }).session?.id;
        if (sid) socket.join(sid);
      });
      if (i === 0) {
        writer = async (sid, cart) => {
          await new Promise<void>((resolve, reject) =>
            store.set(sid, { ...smallSession(0), cart } as unknown as session.SessionData, (err) => (err ? reject(err) : resolve())),
          );
          io.to(sid).emit(EVENT, { cart });
        };
      }
    }
    const port = await listen(http);
    servers.push({
      io,
      http,
      port,
      clients,
      async close() {
        for (const close of closers) await close();
        await new Promise<void>((resolve) => io.close(() => resolve()));
        http.closeAllConnections();
        await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
      },
    });
  }
  return { kind, write: (sid, cart) => writer(sid, cart), received, servers: servers.slice(1), close: async () => void (await Promise.all(servers.map((s) => s.close()))) };
}

/** Connects `perSession` clients for every session to the server that holds it; t0 of each write by seq. */
export class Clients {
  readonly sockets: ClientSocket[] = [];
  readonly latencies = new Latencies();
  received = 0;
  lastAt = 0;
  /** seq -> write start time; cart[0] of each write is its seq. */
  sentAt = new Float64Array(1 << 20);
  minSeq = Infinity;

  async connect(sids: string[], perSession: number, portOf: (index: number) => number): Promise<void> {
    const jobs = sids.flatMap((sid, index) => Array.from({ length: perSession }, () => ({ sid, port: portOf(index) })));
    for (let start = 0; start < jobs.length; start += 50) {
      await Promise.all(
        jobs.slice(start, start + 50).map(
          ({ sid, port }) =>
            new Promise<void>((resolve, reject) => {
              const socket = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], extraHeaders: { cookie: cookieFor(sid) }, reconnection: false, forceNew: true });
              socket.on(EVENT, (payload: { cart?: number[] }) => this.onUpdate(payload));
              socket.once('connect', () => resolve());
              socket.once('connect_error', reject);
              this.sockets.push(socket);
            }),
        ),
      );
    }
  }

  private onUpdate(payload: { cart?: number[] }): void {
    const seq = payload?.cart?.[0];
    if (typeof seq !== 'number' || seq < this.minSeq) return; // the initial update after joining, or an earlier phase
    const now = performance.now();
    this.latencies.push(now - this.sentAt[seq]);
    this.received++;
    this.lastAt = now;
  }

  /** Starts a measurement phase: deliveries of writes with seq >= `from` count. */
  reset(from: number): void {
    this.minSeq = from;
    this.received = 0;
    (this as { latencies: Latencies }).latencies = new Latencies();
  }

  close(): void {
    for (const socket of this.sockets) socket.disconnect();
  }
}

export interface Fleet {
  deployment: Deployment;
  clients: Clients;
  seq: number;
}

/**
 * One measured phase: `writers` concurrent loops writing round-robin over the sessions for `ms`,
 * then waits for every delivery. Latency is write start -> the client has the update.
 */
export async function phase(fleet: Fleet, sids: string[], perSession: number, writers: number, ms: number, maxWrites = Infinity) {
  const { deployment, clients } = fleet;
  const first = fleet.seq;
  clients.reset(first);
  const receivedBefore = [...deployment.received];
  let writes = 0;
  let next = first;
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline && writes < maxWrites) {
        const seq = next++;
        writes++;
        const sid = sids[seq % sids.length];
        clients.sentAt[seq % clients.sentAt.length] = performance.now();
        await deployment.write(sid, [seq % clients.sentAt.length, 101, 202, 303]);
      }
    }),
  );
  fleet.seq = next;
  if (fleet.seq > clients.sentAt.length - 100_000) fleet.seq = 0; // wrap the seq space between phases
  const expected = writes * perSession;
  const drainDeadline = performance.now() + 15_000;
  while (clients.received < expected && performance.now() < drainDeadline) await sleep(5);
  const lost = expected - clients.received;
  const [p50, p99] = clients.latencies.percentiles(50, 99);
  const elapsed = (clients.lastAt || performance.now()) - start;
  const perServer = deployment.received.map((n, i) => n - receivedBefore[i]);
  return { writes, expected, lost, p50, p99, deliveriesPerSecond: (clients.received / elapsed) * 1000, perServer };
}

/**
 * One deployment per kind, its sessions populated and `perSession` clients per session connected, session
 * i's on server i % serverCount; resolves once a write reaches every client. `newClient` defaults to the
 * private Redis of the run.
 */
export async function buildFleets(ctx: Context, serverCount: number, tag: string, kinds: Kind[], newClient: Connect = () => defaultClient(ctx.redis.url)) {
  const sessionCount = ctx.quick ? 50 : 500;
  const perSession = 2;
  const fleets = new Map<Kind, Fleet>();
  const sidsOf = new Map<Kind, string[]>();
  for (const kind of kinds) {
    const prefix = `bench:${tag}:${kind === OURS ? 'ours' : kind === CLASSIC ? 'classic' : 'sharded'}:`;
    const deployment = await deploy(kind, newClient, prefix, serverCount);
    const seeder = newClient();
    const sids = makeSids(sessionCount);
    await populate(createStore(kind === OURS ? OURS : CONNECT_REDIS, seeder, prefix), sids, smallSession);
    await seeder.quit();
    const clients = new Clients();
    // Session i's sockets are all on server i % serverCount.
    await clients.connect(sids, perSession, (i) => deployment.servers[i % serverCount].port);
    const fleet = { deployment, clients, seq: 1 };
    // Readiness: one write per session until every client has it (the sharded adapter subscribes
    // a room's channel in the background after the socket joined).
    for (let attempt = 0; ; attempt++) {
      const ready = await phase(fleet, sids, perSession, 1, 60_000, sids.length);
      if (ready.lost === 0) break;
      if (attempt === 5) throw new Error(`${kind}: ${ready.lost} of ${ready.expected} deliveries never arrived while warming up`);
    }
    fleets.set(kind, fleet);
    sidsOf.set(kind, sids);
    ctx.log(`${tag}: ${kind}: ${serverCount} socket server(s), ${clients.sockets.length} clients over ${sessionCount} sessions`);
  }
  return {
    fleets,
    sidsOf,
    perSession,
    sessionCount,
    async close() {
      for (const fleet of fleets.values()) {
        fleet.clients.close();
        await fleet.deployment.close();
      }
    },
  };
}

