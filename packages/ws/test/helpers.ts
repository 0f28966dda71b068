/** Shared by the ws tests: app servers in separate processes, logged-in clients, a recording `ws` client. */
import { join } from 'node:path';
import { type CookieClient, loginAt, sessionIdOfCookie, startChild, type ChildServer, waitFor } from '@live-session/test-support';
import { WebSocket } from 'ws';

export const SERVER_SCRIPT = join(__dirname, 'fixtures', 'server.js');
export const SECRET = 'ws test secret';

export interface AppServer extends ChildServer {
  url: string;
  wsUrl: string;
}

export async function startServer(redisUrl: string, env: Record<string, string> = {}): Promise<AppServer> {
  const child = await startChild(SERVER_SCRIPT, { REDIS_URL: redisUrl, NODE_OPTIONS: '--expose-gc', ...env });
  const port = child.info.port as number;
  return Object.assign(child, { url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/live` });
}

/** Logs in on `server` (the fixture regenerates the session) and returns the client holding the cookie. */
export const login = (server: AppServer, user: string, extra: { maxAge?: number } = {}): Promise<CookieClient> => loginAt(server.url, user, extra);

export const sidOf = (client: CookieClient): string => sessionIdOfCookie(client);

type Message = { type: string } & Record<string, unknown>;

/** A `ws` client recording every message, the close code and reason, or the HTTP status that refused it. */
export class RecordingWs {
  readonly ws: WebSocket;
  readonly messages: Message[] = [];
  opened = false;
  refused: number | undefined;
  closed: { code: number; reason: string } | undefined;
  private nextId = 1;

  constructor(url: string, cookie: string | undefined, headers: Record<string, string> = {}) {
    this.ws = new WebSocket(url, { headers: { ...(cookie ? { cookie } : {}), ...headers } });
    this.ws.on('open', () => (this.opened = true));
    this.ws.on('message', (data) => this.messages.push(JSON.parse(data.toString()) as Message));
    this.ws.on('unexpected-response', (_req, res) => {
      this.refused = res.statusCode;
      res.resume();
    });
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.ws.on('error', () => undefined); // a refused handshake: see `refused`
  }

  /** Resolves once open or refused. */
  static async open(url: string, cookie: string | undefined, headers: Record<string, string> = {}): Promise<RecordingWs> {
    const client = new RecordingWs(url, cookie, headers);
    await waitFor(() => client.opened || client.refused !== undefined || client.closed !== undefined, { what: `a WebSocket to ${url}` });
    return client;
  }

  of(type: string): Message[] {
    return this.messages.filter((m) => m.type === type);
  }

  get latest(): Record<string, unknown> | undefined {
    return this.of('update').at(-1)?.data as Record<string, unknown> | undefined;
  }

  until(check: (latest: Record<string, unknown>) => boolean, what = 'an update'): Promise<Record<string, unknown>> {
    return waitFor(() => (this.latest && check(this.latest) ? this.latest : undefined), { what });
  }

  /** Sends a write and resolves to its reply. */
  async write(key: unknown, value: unknown): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ type: 'write', id, key, value }));
    return waitFor(() => this.of('reply').find((m) => m.id === id), { what: `the reply to write ${id}` });
  }

  close(): void {
    this.ws.terminate();
  }
}
