/**
 * The HTTP server of benchmarks 2 and 5, run as a child process (so the load generator has its
 * own core): Express 5 + express-session with STORE=live-session|connect-redis on REDIS_URL.
 * Prints `READY {"port":N}`.
 */
import express from 'express';
import session from 'express-session';
import { type AnyStoreName, DAY, openStore } from './stores';

async function main(): Promise<void> {
  const name = process.env.STORE as AnyStoreName;
  const autoPipelining = process.env.AUTO_PIPELINING === '1';
  const { store, close } = await openStore(name, process.env.REDIS_URL!, `bench:http:${name.replace(/\W+/g, '-')}${autoPipelining ? '-auto' : ''}:`, { autoPipelining });

  const app = express();
  app.use(
    session({
      store,
      secret: 'bench-secret',
      name: 'sid',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: DAY },
    }),
  );

  /** Creates the session: the small session of the other benchmarks. */
  app.post('/login', (req, res) => {
    Object.assign(req.session, { user: { id: 1000, name: 'Ada Lovelace' }, cart: [101, 202, 303] });
    res.json({ ok: true });
  });

  /** Read-mostly: reads the session, changes nothing (express-session then calls store.touch). */
  app.get('/read', (req, res) => {
    const s = req.session as unknown as Record<string, unknown>;
    if (!s.user) return void res.status(401).json({ error: 'no session' });
    res.json({ user: s.user, cart: s.cart });
  });

  /** Writing: changes one key (express-session then calls store.set). */
  app.post('/write', (req, res) => {
    const s = req.session as unknown as Record<string, unknown>;
    if (!s.user) return void res.status(401).json({ error: 'no session' });
    s.visits = ((s.visits as number) ?? 0) + 1;
    res.json({ visits: s.visits });
  });

  /** Lost updates: each request sets its own key. */
  app.post('/mark/:key', (req, res) => {
    (req.session as unknown as Record<string, unknown>)[req.params.key] = true;
    res.json({ ok: true });
  });

  app.get('/keys', (req, res) => {
    res.json(Object.keys(req.session).filter((k) => k !== 'cookie'));
  });

  const server = app.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`READY ${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
  });
  server.keepAliveTimeout = 60_000;

  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => void close().finally(() => process.exit(0)));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
