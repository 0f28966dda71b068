/**
 * A TCP proxy in front of a server (Redis) that can stall its connections the way a broken network
 * does: `freeze()` holds every byte in both directions without closing anything (the TCP
 * connections stay open, nothing moves), `thaw()` lets the held bytes through in order and
 * resumes. What a silent stall looks like to a client: no error, no close, no answer.
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
  /** How many client connections are open through the proxy. */
  readonly connections: number;
  close(): Promise<void>;
}

/** One direction of one connection: bytes from `from` to `to`, held while frozen. */
class Pipe {
  private held: Buffer[] = [];

  constructor(
    from: Socket,
    private readonly to: Socket,
    private readonly frozen: () => boolean,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (this.frozen()) this.held.push(chunk);
      else to.write(chunk);
    });
  }

  flush(): void {
    for (const chunk of this.held.splice(0)) this.to.write(chunk);
  }
}

export async function startStallProxy(target: { host: string; port: number }): Promise<StallProxy> {
  let frozen = false;
  const pipes = new Set<Pipe>();
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    const up = new Pipe(client, upstream, () => frozen);
    const down = new Pipe(upstream, client, () => frozen);
    pipes.add(up);
    pipes.add(down);
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      pipes.delete(up);
      pipes.delete(down);
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
    get connections() {
      return sockets.size / 2;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
