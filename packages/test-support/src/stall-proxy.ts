/**
 * A TCP proxy in front of a server (Redis) that can stall its connections the way a broken network
 * does: `freeze()` holds every byte in both directions without closing anything (the TCP
 * connections stay open, nothing moves), `thaw()` lets the held bytes through in order and
 * resumes. What a silent stall looks like to a client: no error, no close, no answer.
 * `latency` makes it a slow link instead: every byte arrives that many ms late, in order.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';
import { once } from 'node:events';

export interface StallProxy {
  /** Where clients connect: redis://127.0.0.1:<port>. */
  readonly url: string;
  readonly port: number;
  /** Holds every byte of every connection, open or new, until thaw(). */
  freeze(): void;
  /** Lets the held bytes through, then forwards as usual. */
  thaw(): void;
  /** Every chunk is delivered this many ms after it arrived (0: at once). */
  latency: number;
  /** How many client connections are open through the proxy. */
  readonly connections: number;
  close(): Promise<void>;
}

/** One direction of one connection: bytes from `from` to `to`, held while frozen. */
class Pipe {
  private held: Buffer[] = [];
  /** Chunks delayed by the latency, in order, each with when it is due. */
  private readonly late: { at: number; chunk: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    from: Socket,
    private readonly to: Socket,
    private readonly frozen: () => boolean,
    private readonly latency: () => number,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (this.frozen()) this.held.push(chunk);
      else this.send(chunk);
    });
  }

  private send(chunk: Buffer): void {
    const latency = this.latency();
    if (latency === 0 && this.late.length === 0) {
      this.to.write(chunk);
      return;
    }
    this.late.push({ at: Date.now() + latency, chunk });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.late.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      while (this.late.length > 0 && this.late[0].at <= now) this.to.write(this.late.shift()!.chunk);
      this.schedule();
    }, Math.max(0, this.late[0].at - Date.now()));
  }

  flush(): void {
    for (const chunk of this.held.splice(0)) this.send(chunk);
  }

  close(): void {
    clearTimeout(this.timer);
  }
}

export async function startStallProxy(target: { host: string; port: number }): Promise<StallProxy> {
  let frozen = false;
  let latency = 0;
  const pipes = new Set<Pipe>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const up = new Pipe(client, upstream, () => frozen, () => latency);
    const down = new Pipe(upstream, client, () => frozen, () => latency);
    pipes.add(up);
    pipes.add(down);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      pipes.delete(up);
      pipes.delete(down);
      up.close();
      down.close();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    freeze: () => {
      frozen = true;
    },
    thaw: () => {
      frozen = false;
      for (const pipe of pipes) pipe.flush();
    },
    get latency() {
      return latency;
    },
    set latency(ms: number) {
      latency = ms;
    },
    get connections() {
      return sockets.size / 2;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
