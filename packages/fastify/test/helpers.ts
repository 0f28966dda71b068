/**
 * Shared by the Fastify tests: the fixture apps (fixtures/apps.js) served in this process with the
 * plugin from src/, stores on either Redis client, and a raw look at Redis.
 */
import { LiveSessionStore, type LiveSessionStoreOptions } from '@live-session/core';
import { type ClientKind, CookieClient, createTestClient, type TestClient, type TestRedis } from '@live-session/test-support';
import type { FastifyInstance } from 'fastify';
import type { Express } from 'express';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fastifyLiveSession, type FastifyLiveSessionOptions } from '../src';

export const SECRET = 'test secret';

export interface Gates {
  arrive(name: string): Promise<void>;
  arrivedCount(name: string): number;
  open(name: string): void;
}

/** fixtures/apps.js, typed for the tests. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fixtures = require('./fixtures/apps') as {
  createFastifyApp(options: {
    register: (app: FastifyInstance) => PromiseLike<unknown>;
    idOf?: (request: unknown) => string;
    trustProxy?: boolean;
  }): Promise<{ app: FastifyInstance; gates: Gates; errors: (Error & { code?: string })[] }>;
  createExpressApp(options: { store: LiveSessionStore; sessionOptions?: Record<string, unknown> }): { app: Express; gates: Gates; errors: Error[] };
  registerFastifySession(app: FastifyInstance, store: LiveSessionStore): Promise<void>;
};

/** Closes what a test file opened, in reverse order. */
export class Resources {
  private readonly closers: (() => unknown)[] = [];

  add<T>(resource: T, close: (resource: T) => unknown): T {
    this.closers.push(() => close(resource));
    return resource;
  }

  /** A Redis client of `kind` (the app's), closed with the file. */
  async client(kind: ClientKind, redis: TestRedis): Promise<TestClient> {
    return this.add(await createTestClient(kind, { url: redis.url }), (c) => c.close());
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

export function newStore(client: TestClient, options: Omit<LiveSessionStoreOptions, 'client'>): LiveSessionStore {
  return new LiveSessionStore({ client: client.client, ...options });
}

export interface TestApp {
  url: string;
  app: FastifyInstance | Express;
  gates: Gates;
  /** Errors that reached the app's error handler. */
  errors: (Error & { code?: string })[];
  /** A new browser-like client (its own cookie jar). */
  client(): CookieClient;
}

/** The fixture app on Fastify with this package's plugin (from src/), listening on a free port. */
export async function startFastify(
  resources: Resources,
  store: LiveSessionStore,
  options: Partial<FastifyLiveSessionOptions> = {},
  { trustProxy = false, routes }: { trustProxy?: boolean; routes?: (app: FastifyInstance) => void } = {},
): Promise<TestApp> {
  const built = await fixtures.createFastifyApp({
    register: (app) => app.register(fastifyLiveSession, { store, secret: SECRET, ...options }),
    trustProxy,
  });
  routes?.(built.app);
  return serveFastify(resources, built);
}

/** The fixture app on Fastify with @fastify/session and the same store: what the plugin is compared with. */
export async function startFastifySession(resources: Resources, store: LiveSessionStore): Promise<TestApp> {
  const built = await fixtures.createFastifyApp({
    register: (app) => fixtures.registerFastifySession(app, store),
    idOf: (request) => (request as { session: { sessionId: string } }).session.sessionId,
  });
  return serveFastify(resources, built);
}

/** The fixture app on Express with express-session and the store. */
export async function startExpress(resources: Resources, store: LiveSessionStore, sessionOptions: Record<string, unknown> = {}): Promise<TestApp> {
  const built = fixtures.createExpressApp({ store, sessionOptions });
  const server: Server = built.app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  resources.add(server, (s) => {
    s.closeAllConnections();
    return new Promise((resolve) => s.close(resolve));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { ...built, url, client: () => new CookieClient(url) };
}

async function serveFastify(resources: Resources, built: { app: FastifyInstance; gates: Gates; errors: (Error & { code?: string })[] }): Promise<TestApp> {
  const url = await built.app.listen({ port: 0, host: '127.0.0.1' });
  resources.add(built.app, (app) => {
    app.server.closeAllConnections();
    return app.close();
  });
  return { ...built, url, client: () => new CookieClient(url) };
}

/** A session hash as Redis holds it (field → stored string). */
export async function hashOf(client: TestClient, key: string): Promise<Record<string, string>> {
  const flat = (await client.command(key, 'HGETALL', key)) as string[] | Record<string, string>;
  if (!Array.isArray(flat)) return flat; // node-redis answers an object
  const hash: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) hash[flat[i]] = flat[i + 1];
  return hash;
}

export async function exists(client: TestClient, key: string): Promise<boolean> {
  return Number(await client.command(key, 'EXISTS', key)) === 1;
}
