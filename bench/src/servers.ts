/** Starts http-server.ts in a child process per store (TypeScript through ts-node's transpile-only hook). */
import { type ChildServer, startChild } from '@live-session/test-support';
import { join } from 'node:path';
import { request } from 'node:http';
import type { AnyStoreName } from './stores';

export interface HttpServer {
  /** The store, and " + autoPipelining" when its client batches. */
  name: string;
  url: string;
  child: ChildServer;
}

/** `autoPipelining`: the store's ioredis client with `enableAutoPipelining` (the name then says so). */
export async function startHttpServer(name: AnyStoreName, redisUrl: string, { autoPipelining = false } = {}): Promise<HttpServer> {
  const hook = require.resolve('ts-node/register/transpile-only');
  const child = await startChild(join(__dirname, 'http-server.ts'), {
    STORE: name,
    AUTO_PIPELINING: autoPipelining ? '1' : '',
    REDIS_URL: redisUrl,
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${hook}`.trim(),
    TS_NODE_PROJECT: join(__dirname, '..', 'tsconfig.json'),
  }, { timeout: 60_000 });
  return { name: autoPipelining ? `${name} + autoPipelining` : name, url: `http://127.0.0.1:${child.info.port}`, child };
}

/** One HTTP request (a fresh connection each time, so 200 of them really are concurrent). */
export function call(url: string, method: string, path: string, cookie?: string): Promise<{ status: number; body: string; setCookie?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, agent: false, headers: cookie ? { cookie } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie']?.[0]?.split(';')[0] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Logs in and returns the session cookie (`sid=...`). */
export async function login(url: string): Promise<string> {
  const res = await call(url, 'POST', '/login');
  if (res.status !== 200 || !res.setCookie) throw new Error(`login failed: ${res.status} ${res.body}`);
  return res.setCookie;
}
