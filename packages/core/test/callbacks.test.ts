/** Every Store method takes an optional callback, as connect-redis's do (a migrating app passes one). */
import { startRedis, type TestRedis } from '@live-session/test-support';
import { LiveSessionStore } from '../src';
import type { Callback } from '../src/callback';
import { cookieJson, Resources } from './helpers';

const PREFIX = 'callbacks:';
const HOUR = 60 * 60 * 1000;

let redis: TestRedis;
const resources = new Resources();
let store: LiveSessionStore;

beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
  store = new LiveSessionStore({ client: resources.redis(redis), prefix: PREFIX });
});
afterAll(() => resources.closeAll());

/** Calls `call` with a callback and resolves with what it was called back with (failing if it never is). */
function calledBack<T>(call: (callback: Callback<T>) => unknown): Promise<{ err: unknown; result: T | undefined }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the callback was never called')), 10_000);
    call((err, result) => {
      clearTimeout(timer);
      resolve({ err, result });
    });
  });
}

const session = (n: number) => ({ cookie: cookieJson(HOUR), n }) as never;

it('calls back from get, set, touch, destroy, all, ids, length and clear', async () => {
  expect(await calledBack((cb) => store.set('a', session(1), cb))).toEqual({ err: null, result: undefined });
  expect(await calledBack((cb) => store.set('b', session(2), cb))).toEqual({ err: null, result: undefined });
  expect(await calledBack((cb) => store.get('a', cb))).toMatchObject({ err: null, result: { n: 1 } });
  expect(await calledBack((cb) => store.touch('a', session(1), cb))).toEqual({ err: null, result: undefined });
  const ids = await calledBack<string[]>((cb) => store.ids(cb));
  expect({ err: ids.err, ids: ids.result?.sort() }).toEqual({ err: null, ids: ['a', 'b'] });
  expect(await calledBack((cb) => store.length(cb))).toEqual({ err: null, result: 2 });
  expect(await calledBack((cb) => store.all(cb))).toMatchObject({ err: null, result: { a: { n: 1 }, b: { n: 2 } } });
  expect(await calledBack((cb) => store.destroy('a', cb))).toEqual({ err: null, result: undefined });
  expect(await calledBack((cb) => store.get('a', cb))).toEqual({ err: null, result: null });
  expect(await calledBack((cb) => store.clear(cb))).toEqual({ err: null, result: undefined });
  expect(await calledBack((cb) => store.length(cb))).toEqual({ err: null, result: 0 });
});

it('passes errors to the callback, and then resolves rather than rejects', async () => {
  const broken = new LiveSessionStore({ client: resources.redis(redis, { enableOfflineQueue: false, lazyConnect: true }), prefix: PREFIX });
  const calls: [string, (cb: Callback<unknown>) => Promise<unknown>][] = [
    ['get', (cb) => broken.get('a', cb)],
    ['set', (cb) => broken.set('a', session(1), cb)],
    ['touch', (cb) => broken.touch('a', session(1), cb)],
    ['destroy', (cb) => broken.destroy('a', cb)],
    ['all', (cb) => broken.all(cb)],
    ['ids', (cb) => broken.ids(cb)],
    ['length', (cb) => broken.length(cb)],
    ['clear', (cb) => broken.clear(cb)],
  ];
  for (const [method, call] of calls) {
    let returned: Promise<unknown> | undefined;
    const { err } = await calledBack((cb) => (returned = call(cb)));
    expect({ method, code: (err as { code?: string }).code }).toEqual({ method, code: 'ERR_LIVE_SESSION_REDIS' });
    await returned; // resolves: with a callback, an unhandled rejection would take the process down
  }
});
