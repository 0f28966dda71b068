/**
 * The real connect-redis, as the apps switching to this store run it today: 8.1 on ioredis and
 * 10.0 on node-redis (`redis` 6), installed under npm aliases, and an express app using it.
 */
import { CookieClient, type TestRedis } from '@live-session/test-support';
import { RedisStore as RedisStore8 } from 'connect-redis-8';
import { RedisStore as RedisStore10 } from 'connect-redis-10';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { createClient } from 'redis';
import { listen, type Resources } from './helpers';

/** startApp's secret (test/helpers.ts): a cookie signed by one app is accepted by the other. */
export const SECRET = 'test secret';

export interface ConnectRedisVariant {
  name: string;
  /** A connect-redis store on a fresh connection (closed with the file). */
  store(resources: Resources, redis: TestRedis, options?: { prefix?: string; disableTTL?: boolean }): Promise<session.Store>;
}

export const VARIANTS: ConnectRedisVariant[] = [
  {
    name: 'connect-redis 8.1 on ioredis',
    store: async (resources, redis, options = {}) => new RedisStore8({ client: resources.redis(redis), ...options }),
  },
  {
    name: 'connect-redis 10.0 on node-redis 6',
    store: async (resources, redis, options = {}) => {
      const client = createClient({ url: redis.url });
      client.on('error', () => undefined);
      await client.connect();
      resources.add(client, (c) => c.destroy());
      return new RedisStore10({ client, ...options });
    },
  },
];

type Dict = Record<string, unknown>;
const view = (req: Request) => ({ id: req.sessionID, session: JSON.parse(JSON.stringify(req.session)) as Dict });

/**
 * An express 5 app on a connect-redis store, with startApp's routes that matter here:
 *   POST /login (regenerate, then set `user`), POST /set (every key of the body), GET /session.
 */
export async function startConnectRedisApp(resources: Resources, store: session.Store, sessionOptions: Partial<session.SessionOptions> = {}) {
  const app = express();
  app.use(express.json());
  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, ...sessionOptions }));
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      Object.assign(req.session, { user: (req.body as Dict).user });
      res.json(view(req));
    });
  });
  app.post('/set', (req, res) => {
    Object.assign(req.session, req.body);
    res.json(view(req));
  });
  app.get('/session', (req, res) => {
    res.json(view(req));
  });
  app.use((err: Error & { code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.code ?? err.message });
  });
  const { url, close } = await listen(resources, app);
  return { url, close, client: () => new CookieClient(url) };
}
