/** Shared by the socket.io tests: app servers in separate processes or in this one, logged-in clients, sockets. */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { LiveSessionStore } from '@live-session/core';
import type { Server, Socket } from 'socket.io';
import type { LiveSession } from '../src';
import { CookieClient, startChild, type ChildServer, waitFor } from '@live-session/test-support';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';

export const SERVER_SCRIPT = join(__dirname, 'fixtures', 'server.js');

export interface AppServer extends ChildServer {
  url: string;
}

/**
 * Starts `count` app servers (A, B, ...) as child processes. `redis`: a Redis URL, or the
 * environment that tells fixtures/server.js how to reach Redis (REDIS_CLUSTER_NODES, REDIS_SENTINELS).
 */
export async function startServers(count: number, redis: string | Record<string, string>, extraEnv: Record<string, string> = {}): Promise<AppServer[]> {
  const env = { ...(typeof redis === 'string' ? { REDIS_URL: redis } : redis), ...extraEnv };
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const child = await startChild(SERVER_SCRIPT, { ...env, NAME: String.fromCharCode(65 + i) });
      return Object.assign(child, { url: `http://127.0.0.1:${child.info.port as number}` });
    }),
  );
}

/** The fixture app (fixtures/app.js) run in this process, to reach inside it. */
export interface InProcessApp {
  server: HttpServer;
  io: Server;
  live: LiveSession;
  store: LiveSessionStore;
  close(): Promise<void>;
  url: string;
  /** Every socket that connected, in order. */
  sockets: Socket[];
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createApp } = require('./fixtures/app') as {
  createApp(options: { redisUrl: string; disconnectOnDestroy?: boolean }): Omit<InProcessApp, 'url' | 'sockets'>;
};

/** Starts the fixture app in this process on a free port. */
export async function startInProcessApp(options: { redisUrl: string; disconnectOnDestroy?: boolean }): Promise<InProcessApp> {
  const app = createApp(options);
  const sockets: Socket[] = [];
  app.io.on('connection', (socket) => sockets.push(socket));
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  return Object.assign(app, { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, sockets });
}

/** The id express-session gave a server-side socket's handshake request. */
export function sessionIdOfSocket(socket: Socket): string {
  return (socket.request as unknown as { session: { id: string } }).session.id;
}

/** Logs in over HTTP (express-session regenerates the id) and returns the client holding the cookie. */
export async function login(server: AppServer, user: string, cookie: { maxAge?: number; expires?: number } = {}): Promise<CookieClient> {
  const client = new CookieClient(server.url);
  const response = await client.post('/login', { user, ...cookie });
  if (response.status !== 200) throw new Error(`login failed: ${response.status}`);
  return client;
}

/** A socket.io-client connection carrying the given Cookie header, recording what it receives. */
export class RecordingSocket {
  readonly socket: ClientSocket;
  readonly updates: Record<string, unknown>[] = [];
  readonly handlerCalls: { server: string; change: { version: number; set: Record<string, unknown>; unset: string[] } }[] = [];
  destroys = 0;
  /** Each live_session:destroy: when it arrived and the reason it gave. */
  readonly destroyEvents: { at: number; reason: unknown }[] = [];
  readonly handlerDestroys: { server: string; reason: string; session: unknown }[] = [];

  constructor(url: string, cookie: string | undefined, options: Parameters<typeof connect>[1] = {}) {
    this.socket = connect(url, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(cookie ? { extraHeaders: { cookie } } : {}),
      ...options,
    });
    this.socket.on('live_session:update', (payload: Record<string, unknown>) => this.updates.push(payload));
    this.socket.on('live_session:destroy', (payload?: { reason?: unknown }) => {
      this.destroys++;
      this.destroyEvents.push({ at: Date.now(), reason: payload?.reason });
    });
    this.socket.on('test:handler-destroy', (call) => this.handlerDestroys.push(call));
    this.socket.on('test:handler', (call) => this.handlerCalls.push(call));
  }

  static async open(url: string, cookie: string | undefined, options: Parameters<typeof connect>[1] = {}): Promise<RecordingSocket> {
    const recording = new RecordingSocket(url, cookie, options);
    await waitFor(() => recording.socket.connected, { what: `a socket connection to ${url}` });
    return recording;
  }

  /** The last session data the browser was sent. */
  get latest(): Record<string, unknown> | undefined {
    return this.updates.at(-1);
  }

  /** Waits until the last update sent to this socket satisfies `check`. */
  until(check: (latest: Record<string, unknown>) => boolean, what = 'an update'): Promise<Record<string, unknown>> {
    return waitFor(() => (this.latest && check(this.latest) ? this.latest : undefined), { what });
  }

  emit<T>(event: string, ...args: unknown[]): Promise<T> {
    return this.socket.timeout(5000).emitWithAck(event, ...args) as Promise<T>;
  }

  close(): void {
    this.socket.disconnect();
  }
}
