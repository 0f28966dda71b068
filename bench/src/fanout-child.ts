/**
 * One process of the `fanout-procs` and `fanout-transports` benchmarks (they fork it; ROLE says which):
 *   receiver: a socket.io server holding the clients' sockets, of KIND ours (createLiveSession) or
 *             connect-redis + @socket.io/redis-adapter (classic or sharded "dynamic"), as in fleet.ts;
 *             or of KIND sse / ws: an http server with @live-session/sse / @live-session/ws on the same store;
 *   writer:   writes (ours: putSession; the adapters: connect-redis set, then io.to(sid).emit);
 *   clients:  the clients of every kind (socket.io-client, an event-stream reader, a ws client), counting each delivery.
 * Commands come over the IPC channel as { id, cmd, args } and are answered { id, result } or { id, error }.
 * Every update carries cart = [seq, session index, wall-clock ms of the write's start]: the clients check
 * that each (write, socket) pair arrives once and at a socket of that session.
 */
import type { LiveSessionStore } from '@live-session/core';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import session from 'express-session';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { request } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import { CLASSIC } from './fleet';
import { Latencies } from './stats';
import { SSE, type Transport, WS } from './transport-kinds';
import { CONNECT_REDIS, createStore, DAY, newClient, OURS, populate, smallSession } from './stores';

const EVENT = 'live_session:update';
const SECRET = 'bench-secret';


type Handler = (args: never) => unknown;
const wall = () => performance.timeOrigin + performance.now();

function serve(handlers: Record<string, Handler>, ready: Record<string, unknown>): void {
  process.on('message', (message: { id: number; cmd: string; args: never }) => {
    // Sent by fanout-procs.ts instead of a kill when the process runs under --cpu-prof: exiting writes the profile.
    if (message.cmd === 'exit') return void process.exit(0);
    const handler = handlers[message.cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown command ${message.cmd}`);
        return handler(message.args);
      })
      .then(
        (result) => process.send!({ id: message.id, result }),
        (err: unknown) => process.send!({ id: message.id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  process.send!({ ready });
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const heap = () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
  return process.memoryUsage().heapUsed;
};

/** A socket.io server of `kind`; without `listen`, only the writer's emitter. */
async function ioServer(kind: string, url: string, prefix: string, listen: boolean) {
  const client = newClient(url);
  const store = createStore(kind === OURS ? OURS : CONNECT_REDIS, client, prefix);
  const http = createServer();
  const io = new Server(http, { transports: ['websocket'], serveClient: false });
  io.engine.use(session({ store, secret: SECRET, name: 'sid', resave: false, saveUninitialized: false, cookie: { maxAge: DAY } }));
  if (kind === OURS) {
    if (listen) {
      const { createLiveSession } = await import('@live-session/socket.io');
      const live = createLiveSession(io, { store: store as LiveSessionStore, expose: (s) => ({ cart: s.cart }) });
      io.use(live.middleware);
    }
  } else {
    const pub = client.duplicate();
    const sub = client.duplicate();
    io.adapter(kind === CLASSIC ? createAdapter(pub, sub) : createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic' }));
    io.on('connection', (socket) => {
      const sid = (socket.request as unknown as { session?: session.Session }).session?.id;
      if (sid) socket.join(sid);
    });
  }
  let port = 0;
  if (listen) {
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    port = (http.address() as AddressInfo).port;
  }
  return { client, store, io, port };
}

async function receiver(): Promise<void> {
  const kind = process.env.KIND!;
  if (kind === SSE || kind === WS) return transportReceiver(kind);
  const { io, port } = await ioServer(kind, process.env.REDIS_URL!, process.env.PREFIX!, true);
  serve({ cpu: () => cpuUs(), heap: () => heap(), sockets: () => io.engine.clientsCount }, { port, pid: process.pid });
}

/** An http server streaming the sessions with @live-session/sse on /live, or following them with @live-session/ws on its upgrades. */
async function transportReceiver(kind: string): Promise<void> {
  const store = createStore(OURS, newClient(process.env.REDIS_URL!), process.env.PREFIX!) as LiveSessionStore;
  const expose = (s: { cart?: unknown }) => ({ cart: s.cart });
  const http = createServer();
  let count: () => number;
  if (kind === SSE) {
    const { createLiveSse } = await import('@live-session/sse');
    const live = createLiveSse({ store, secret: SECRET, name: 'sid', expose });
    http.on('request', live.stream);
    count = () => live.size;
  } else {
    const { createLiveWs } = await import('@live-session/ws');
    const live = createLiveWs(new WebSocketServer({ noServer: true }), { store, secret: SECRET, name: 'sid', expose });
    http.on('upgrade', (req, socket, head) => live.handleUpgrade(req, socket, head));
    count = () => live.size;
  }
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  serve({ cpu: () => cpuUs(), heap: () => heap(), sockets: () => count() }, { port: (http.address() as AddressInfo).port, pid: process.pid });
}

async function writer(): Promise<void> {
  const kind = process.env.KIND!;
  const { store, io } = await ioServer(kind, process.env.REDIS_URL!, process.env.PREFIX!, false);
  let sids: string[] = [];
  const write =
    kind === OURS
      ? async (sid: string, cart: number[]) => void (await (store as LiveSessionStore).putSession(sid, 'cart', cart))
      : async (sid: string, cart: number[]) => {
          await new Promise<void>((resolve, reject) =>
            store.set(sid, { ...smallSession(0), cart } as unknown as session.SessionData, (err) => (err ? reject(err) : resolve())),
          );
          io.to(sid).emit(EVENT, { cart });
        };
  serve(
    {
      /** Stores the sessions (the receiver loads them when the clients connect). */
      populate: async (args: { sids: string[] }) => {
        sids = args.sids;
        await populate(store, sids, smallSession);
      },
      /**
       * `writers` loops, `writes` writes in all, seq from `first`, session seq % sessions; with `rate`
       * (writes/s, all loops together) each write waits for its turn instead of going at once.
       */
      run: async ({ writers, writes, first, rate }: { writers: number; writes: number; first: number; rate?: number }) => {
        let next = first;
        const end = first + writes;
        const start = wall();
        const cpu = cpuUs();
        await Promise.all(
          Array.from({ length: writers }, async () => {
            while (next < end) {
              const seq = next++;
              const early = rate ? start + ((seq - first) * 1000) / rate - wall() : 0;
              if (early > 1) await sleep(early);
              const index = seq % sids.length;
              await write(sids[index], [seq, index, wall()]);
            }
          }),
        );
        return { start, end: wall(), cpu: cpuUs() - cpu };
      },
      cpu: () => cpuUs(),
    },
    {},
  );
}

/** express-session's signed cookie for a session id (cookie-signature: HMAC-SHA256, base64 without padding). */
function cookieFor(sid: string): string {
  const signed = `s:${sid}.${createHmac('sha256', SECRET).update(sid).digest('base64').replace(/=+$/, '')}`;
  return `sid=${encodeURIComponent(signed)}`;
}

/** Deliveries of one kind's measured phase. */
class Phase {
  first = Infinity;
  writes = 0;
  perSession = 1;
  /** Per (write, socket slot of its session): how many times it arrived. */
  counts = new Uint8Array(0);
  received = 0;
  misrouted = 0;
  late = 0;
  lastAt = 0;
  latencies = new Latencies();

  reset(first: number, writes: number, perSession: number): void {
    Object.assign(this, { first, writes, perSession, counts: new Uint8Array(writes * perSession), received: 0, misrouted: 0, late: 0, lastAt: 0, latencies: new Latencies() });
  }

  onUpdate(index: number, slot: number, sessions: number, cart: unknown): void {
    if (!Array.isArray(cart) || typeof cart[0] !== 'number') return;
    const [seq, target, at] = cart as [number, number, number];
    if (seq < this.first) return; // the update a socket gets when it joins, or an earlier phase
    if (seq >= this.first + this.writes) return void this.late++;
    const now = wall();
    if (target !== index || seq % sessions !== index) this.misrouted++;
    this.counts[(seq - this.first) * this.perSession + slot]++;
    this.received++;
    this.lastAt = now;
    this.latencies.push(now - at);
  }

  summary() {
    let lost = 0;
    let duplicated = 0;
    for (const n of this.counts) {
      if (n === 0) lost++;
      else if (n > 1) duplicated += n - 1;
    }
    const [p50, p99] = this.latencies.percentiles(50, 99);
    return { received: this.received, lost, duplicated, misrouted: this.misrouted, p50, p99, lastAt: this.lastAt };
  }
}

/** An event stream on /live: each `data:` line is the exposed view ({ cart }). */
function sseClient(port: number, cookie: string, deliver: (cart: unknown) => void, connected: () => void, failed: (err: Error) => void) {
  const req = request({ host: '127.0.0.1', port, path: '/live', headers: { cookie, accept: 'text/event-stream' }, agent: false }, (res) => {
    if (res.statusCode !== 200) return failed(new Error(`the stream was answered ${res.statusCode}`));
    connected();
    res.setEncoding('utf8');
    let buffer = '';
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.indexOf('\ndata: ');
        if (data >= 0) deliver((JSON.parse(event.slice(data + 7)) as { cart?: unknown }).cart);
      }
    });
  });
  req.on('error', failed);
  req.end();
  return req;
}

/** A ws client on /live: each `update` message carries the exposed view. */
function wsClient(port: number, cookie: string, deliver: (cart: unknown) => void, connected: () => void, failed: (err: Error) => void) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/live`, { headers: { cookie } });
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { type: string; data?: { cart?: unknown } };
    if (message.type === 'update') deliver(message.data?.cart);
  });
  ws.once('open', connected);
  ws.once('error', failed);
  return ws;
}

async function clients(): Promise<void> {
  const sockets: ClientSocket[] = [];
  const streams: ReturnType<typeof request>[] = [];
  const webSockets: WebSocket[] = [];
  const phases = new Map<string, Phase>();
  serve(
    {
      /** Connects `perSession` clients to each of `sids`, the sessions `offset`.. of the kind's `sessions` (default: all of them). */
      connect: async ({ tag, port, sids, perSession, offset = 0, sessions = sids.length, transport = 'socket.io' }: { tag: string; port: number; sids: string[]; perSession: number; offset?: number; sessions?: number; transport?: Transport }) => {
        let phase = phases.get(tag);
        if (!phase) phases.set(tag, (phase = new Phase()));
        const jobs = sids.flatMap((sid, i) => Array.from({ length: perSession }, (_, slot) => ({ sid, index: offset + i, slot })));
        for (let start = 0; start < jobs.length; start += 50) {
          await Promise.all(
            jobs.slice(start, start + 50).map(
              ({ sid, index, slot }) =>
                new Promise<void>((resolve, reject) => {
                  const deliver = (cart: unknown) => phase.onUpdate(index, slot, sessions, cart);
                  if (transport === 'sse') return streams.push(sseClient(port, cookieFor(sid), deliver, resolve, reject));
                  if (transport === 'ws') return webSockets.push(wsClient(port, cookieFor(sid), deliver, resolve, reject));
                  const socket = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], extraHeaders: { cookie: cookieFor(sid) }, reconnection: false, forceNew: true });
                  socket.on(EVENT, (payload: { cart?: unknown }) => deliver(payload?.cart));
                  socket.once('connect', () => resolve());
                  socket.once('connect_error', reject);
                  sockets.push(socket);
                }),
            ),
          );
        }
      },
      reset: ({ tag, first, writes, perSession }: { tag: string; first: number; writes: number; perSession: number }) => phases.get(tag)!.reset(first, writes, perSession),
      /** Waits for every delivery (deadline `ms`), then 100 ms more for duplicates. */
      wait: async ({ tag, ms }: { tag: string; ms: number }) => {
        const phase = phases.get(tag)!;
        const expected = phase.writes * phase.perSession;
        const deadline = performance.now() + ms;
        while (phase.received < expected && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
        await new Promise((resolve) => setTimeout(resolve, 100));
        return phase.summary();
      },
    },
    {},
  );
}

const roles: Record<string, () => Promise<void>> = { receiver, writer, clients };
roles[process.env.ROLE!]().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
