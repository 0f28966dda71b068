/** Shared by the SSE tests: app servers in separate processes, logged-in clients, a recording event-stream client. */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { type CookieClient, loginAt, sessionIdOfCookie, startChild, type ChildServer, waitFor } from '@live-session/test-support';

export const SERVER_SCRIPT = join(__dirname, 'fixtures', 'server.js');
export const SECRET = 'sse test secret';

export interface AppServer extends ChildServer {
  url: string;
  port: number;
}

/** Starts one app server (fixtures/server.js) as a child process. */
export async function startServer(redisUrl: string, env: Record<string, string> = {}): Promise<AppServer> {
  const child = await startChild(SERVER_SCRIPT, { REDIS_URL: redisUrl, NODE_OPTIONS: '--expose-gc', ...env });
  const port = child.info.port as number;
  return Object.assign(child, { url: `http://127.0.0.1:${port}`, port });
}

/** Logs in on `server` (the fixture regenerates the session) and returns the client holding the cookie. */
export const login = (server: AppServer, user: string, extra: { maxAge?: number } = {}): Promise<CookieClient> => loginAt(server.url, user, extra);

export const sidOf = (client: CookieClient): string => sessionIdOfCookie(client);

export interface StreamEvent {
  /** The event type ('update', 'end'); '' for a bare id (no event fired in a browser). */
  event: string;
  id: string | undefined;
  data: string;
}

/**
 * An event-stream client parsing the stream as the HTML spec says an EventSource does: records
 * every dispatched event, the last event id, and `retry`. It does not reconnect by itself.
 */
export class StreamClient {
  status = 0;
  headers: IncomingMessage['headers'] = {};
  readonly events: StreamEvent[] = [];
  lastEventId: string | undefined;
  comments = 0;
  retry: number | undefined;
  ended = false;
  private readonly req: ClientRequest;
  private buffer = '';
  private pending: { event: string; data: string[]; id: string | undefined } = { event: '', data: [], id: undefined };

  constructor(url: string, cookie: string | undefined, lastEventId?: string) {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (cookie) headers.cookie = cookie;
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    this.lastEventId = lastEventId;
    this.req = request(url, { headers, agent: false });
    this.req.on('response', (res) => {
      this.status = res.statusCode ?? 0;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => this.feed(chunk));
      res.on('end', () => (this.ended = true));
      res.on('close', () => (this.ended = true));
    });
    this.req.on('error', () => (this.ended = true));
    this.req.end();
  }

  static async open(url: string, cookie: string | undefined, lastEventId?: string): Promise<StreamClient> {
    const client = new StreamClient(url, cookie, lastEventId);
    await waitFor(() => client.status !== 0 || client.ended, { what: `a response from ${url}` });
    return client;
  }

  /** The dispatched events of a type (a browser fires only those with data). */
  of(event: string): StreamEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  updates(): Record<string, unknown>[] {
    return this.of('update').map((e) => JSON.parse(e.data) as Record<string, unknown>);
  }

  get latest(): Record<string, unknown> | undefined {
    return this.updates().at(-1);
  }

  until(check: (latest: Record<string, unknown>) => boolean, what = 'an update'): Promise<Record<string, unknown>> {
    return waitFor(() => (this.latest && check(this.latest) ? this.latest : undefined), { what });
  }

  close(): void {
    this.req.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).replace(/\r$/, '');
      this.buffer = this.buffer.slice(newline + 1);
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      const { event, data, id } = this.pending;
      if (id !== undefined) this.lastEventId = id;
      // As the spec: an event with no data only moves the last event id (a browser fires nothing).
      this.events.push({ event: data.length === 0 ? '' : event || 'message', id, data: data.join('\n') });
      this.pending = { event: '', data: [], id: undefined };
      return;
    }
    if (line.startsWith(':')) return void this.comments++;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') this.pending.event = value;
    else if (field === 'data') this.pending.data.push(value);
    else if (field === 'id') this.pending.id = value;
    else if (field === 'retry') this.retry = Number(value);
  }
}
