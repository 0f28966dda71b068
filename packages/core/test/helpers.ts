/**
 * Helpers shared by the core test files: Redis connections, an express 5 app using the store,
 * a raw subscriber, a MONITOR tap and gates that hold a request in the middle.
 * Everything runs against a real Redis (see @live-session/test-support).
 */
import { CookieClient, type TestClient, type TestRedis, waitFor } from '@live-session/test-support';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { Redis, type RedisOptions } from 'ioredis';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { LiveSessionStore, type LiveSessionStoreOptions } from '../src';

/** Closes what a test file opened, in reverse order. */
export class Resources {
  private readonly closers: (() => unknown)[] = [];

  add<T>(resource: T, close: (resource: T) => unknown): T {
    this.closers.push(() => close(resource));
    return resource;
  }

  /** An ioredis client, closed with the file. */
  redis(redis: TestRedis, options: RedisOptions = {}): Redis {
    const client = new Redis(redis.url, options);
    client.on('error', () => undefined); // reconnects are expected in fault tests
    return this.add(client, (c) => c.disconnect());
  }

  store(options: LiveSessionStoreOptions): LiveSessionStore {
    return new LiveSessionStore(options);
  }

  async closeAll(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // best effort: the next closer still runs
      }
    }
  }
}

/** A session cookie in express-session's JSON form, expiring `maxAge` ms from now. */
export function cookieJson(maxAge: number | null = 60 * 60 * 1000, extra: Record<string, unknown> = {}) {
  return {
    originalMaxAge: maxAge,
    expires: maxAge === null ? null : new Date(Date.now() + maxAge).toISOString(),
    httpOnly: true,
    path: '/',
    ...extra,
  };
}

/** express-session's own Cookie class (its typings declare no constructor arguments). */
export function expressCookie(options: session.CookieOptions): session.Cookie {
  const Cookie = session.Cookie as unknown as new (options: session.CookieOptions) => session.Cookie;
  return new Cookie(options);
}

/** Opens a request held by `POST /hold/:name` and lets it go on. */
export class Gates {
  private readonly gates = new Map<string, { arrived: boolean; open: () => void; opened: Promise<void> }>();

  private entry(name: string) {
    let gate = this.gates.get(name);
    if (!gate) {
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      gate = { arrived: false, open, opened };
      this.gates.set(name, gate);
    }
    return gate;
  }

  /** Called by the route: marks the request as arrived, resolves when the test opens the gate. */
  arrive(name: string): Promise<void> {
    const gate = this.entry(name);
    gate.arrived = true;
    return gate.opened;
  }

  /** Resolves once a request is held at the gate (it has loaded its session). */
  async arrived(name: string): Promise<void> {
    await waitFor(() => this.entry(name).arrived, { what: `a request at gate "${name}"` });
  }

  open(name: string): void {
    this.entry(name).open();
  }
}

export interface TestApp {
  url: string;
  store: LiveSessionStore;
  gates: Gates;
  /** Errors that reached the app's error handler. */
  errors: Error[];
  /** A new browser-like client (its own cookie jar). */
  client(): CookieClient;
  close(): Promise<void>;
}

type Dict = Record<string, unknown>;
const data = (req: Request) => req.session as unknown as Dict;
/** The session as the app sees it, JSON-ready. */
const view = (req: Request) => ({ id: req.sessionID, session: JSON.parse(JSON.stringify(req.session)) as Dict });

/**
 * An express 5 app with express-session and the store, listening on a free port. Routes:
 *   GET  /session          reads the session, changes nothing
 *   POST /count            count += 1
 *   POST /set              sets every key of the JSON body
 *   POST /unset/:key       removes a key
 *   POST /login            regenerates the session, then sets `user` from the body
 *   POST /logout           destroys the session
 *   POST /remember         sets cookie.maxAge to body.maxAge (a cookie change without a data change)
 *   POST /hold/:name       sets body.before, waits at gate `name`, reloads if body.reload,
 *                          then sets body.after and cookie.maxAge = body.maxAge if given
 * Errors answer 500 with `{ error: code or message }`.
 */
export async function startApp(
  resources: Resources,
  store: LiveSessionStore,
  sessionOptions: Partial<session.SessionOptions> = {},
): Promise<TestApp> {
  const gates = new Gates();
  const errors: Error[] = [];
  const app: Express = express();
  app.use(express.json());
  app.use(
    session({
      store,
      secret: 'test secret',
      resave: false,
      saveUninitialized: false,
      ...sessionOptions,
    }),
  );
  app.get('/session', (req, res) => {
    res.json(view(req));
  });
  app.post('/count', (req, res) => {
    data(req).count = ((data(req).count as number | undefined) ?? 0) + 1;
    res.json(view(req));
  });
  app.post('/set', (req, res) => {
    Object.assign(req.session, req.body);
    res.json(view(req));
  });
  app.post('/unset/:key', (req, res) => {
    delete data(req)[req.params.key as string];
    res.json(view(req));
  });
  app.post('/login', async (req, res) => {
    await promisify(req.session.regenerate.bind(req.session))();
    data(req).user = req.body.user;
    res.json(view(req));
  });
  app.post('/logout', async (req, res) => {
    await promisify(req.session.destroy.bind(req.session))();
    res.json({ ok: true });
  });
  app.post('/remember', (req, res) => {
    req.session.cookie.maxAge = req.body.maxAge;
    res.json(view(req));
  });
  app.post('/hold/:name', async (req, res) => {
    const { before, after, reload, maxAge } = req.body as { before?: Dict; after?: Dict; reload?: boolean; maxAge?: number };
    Object.assign(req.session, before);
    await gates.arrive(req.params.name as string);
    if (reload) await promisify(req.session.reload.bind(req.session))();
    Object.assign(req.session, after);
    if (maxAge !== undefined) req.session.cookie.maxAge = maxAge;
    res.json(view(req));
  });
  app.use((err: Error & { code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    errors.push(err);
    if (!res.headersSent) res.status(500).json({ error: err.code ?? err.message });
  });

  const { url, close } = await listen(resources, app);
  return { url, store, gates, errors, client: () => new CookieClient(url), close };
}

/** Serves an express app on a free loopback port until the test file's resources close. */
export async function listen(resources: Resources, app: Express): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  resources.add(server, close);
  return { url, close };
}

/** A raw ioredis subscriber on one channel, collecting the messages as received. */
export async function subscribe(resources: Resources, redis: TestRedis, channel: string) {
  const subscriber = resources.redis(redis);
  const messages: string[] = [];
  subscriber.on('message', (from: string, message: string) => {
    if (from === channel) messages.push(message);
  });
  await subscriber.subscribe(channel);
  return {
    messages,
    /** The messages parsed as JSON. */
    parsed: () => messages.map((m) => JSON.parse(m) as Dict),
    /** Waits until at least `count` messages arrived. */
    waitFor: (count: number) => waitFor(() => messages.length >= count, { what: `${count} message(s) on ${channel}, got ${messages.length}` }),
  };
}

/**
 * Records the commands one client sends (MONITOR through a separate connection, filtered on the
 * client's own address). Commands run inside scripts come from "lua": left out, unless `scripts`
 * (then every script's commands count, whoever ran it).
 */
export async function monitorClient(resources: Resources, admin: Redis, client: Redis, { scripts = false } = {}) {
  await client.ping(); // connected, so its local port is known
  const source = `${client.stream.localAddress}:${client.stream.localPort}`;
  const monitor = resources.add(await admin.monitor(), (m) => m.disconnect());
  let commands: string[][] = [];
  let markers = 0;
  const seen = new Set<string>();
  monitor.on('monitor', (_time: string, args: string[], from: string) => {
    if (args[0]?.toLowerCase() === 'echo' && typeof args[1] === 'string' && args[1].startsWith('monitor-marker-')) seen.add(args[1]);
    else if (from === source || (scripts && from === 'lua')) commands.push(args);
  });
  /** Waits until every command sent before now has been seen, then returns them and starts afresh. */
  const take = async (): Promise<string[][]> => {
    const marker = `monitor-marker-${++markers}`;
    await admin.echo(marker);
    await waitFor(() => seen.has(marker), { what: 'the MONITOR marker' });
    const taken = commands;
    commands = [];
    return taken;
  };
  /** take(), as the commands' names in lower case. */
  const names = async (): Promise<string[]> => (await take()).map((args) => args[0].toLowerCase());
  await take();
  return { take, names };
}

/**
 * HGETALL as a plain object with a null prototype (so a "__proto__" field is visible as data),
 * through an ioredis client or a test-support TestClient (either library; RESP3 answers a map).
 */
export async function hashOf(client: Redis | TestClient, key: string): Promise<Record<string, string>> {
  const reply = 'masterOf' in client ? await client.command(key, 'HGETALL', key) : await client.call('HGETALL', key);
  const flat = reply as string[] | Record<string, string>;
  const entries: [string, string][] = Array.isArray(flat)
    ? Array.from({ length: flat.length / 2 }, (_, i) => [flat[2 * i], flat[2 * i + 1]])
    : Object.entries(flat);
  const result = Object.create(null) as Record<string, string>;
  for (const [field, value] of entries) result[field] = value;
  return result;
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { code?: string };
  }
  throw new Error('expected the promise to reject, but it resolved');
}
