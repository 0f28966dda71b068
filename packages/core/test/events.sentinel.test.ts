/**
 * Session events through Sentinel (ioredis: node-redis's Sentinel client is refused by the store):
 * created, destroyed and expired events before and after the master is killed and the replica
 * promoted, with no keyspace notification anywhere (they are off, as by default).
 */
import { startSentinel, type TestSentinel, waitFor } from '@live-session/test-support';
import { Redis } from 'ioredis';
import { LiveSessionStore, type SessionEvent, type SessionWatcher, watchSessions } from '../src';
import { cookieJson } from './helpers';

const HOUR = 60 * 60 * 1000;

let sentinel: TestSentinel;
let client: Redis;
let store: LiveSessionStore;
let watcher: SessionWatcher;
const received: SessionEvent[] = [];

beforeAll(async () => {
  sentinel = await startSentinel();
  client = new Redis({ sentinels: sentinel.sentinels, name: sentinel.name, retryStrategy: () => 100, sentinelRetryStrategy: () => 100, maxRetriesPerRequest: null });
  client.on('error', () => undefined);
  store = new LiveSessionStore({ client, prefix: 'sentinel:', events: true, timeout: 20_000 });
  watcher = watchSessions(store, { created: (e) => void received.push(e), destroyed: (e) => void received.push(e), expired: (e) => void received.push(e) }, { claimAfter: 1000, onError: () => undefined });
}, 60_000);
afterAll(async () => {
  await watcher?.close();
  client?.disconnect();
  await sentinel?.close();
});

const typesOf = (sid: string) => received.filter((event) => event.sid === sid).map((event) => event.type);
const waitForEvent = (sid: string, type: SessionEvent['type']) => waitFor(() => typesOf(sid).includes(type), { timeout: 30_000, what: `${type} of ${sid} (got ${typesOf(sid).join(', ') || 'none'})` });

it('reports expiries and logouts without keyspace notifications, before and after a failover', async () => {
  expect(await client.config('GET', 'notify-keyspace-events')).toEqual(['notify-keyspace-events', '']);
  await store.set('before', { cookie: cookieJson(1000) } as never);
  await store.set('across', { cookie: cookieJson(HOUR) } as never);
  await waitForEvent('before', 'expired');
  await waitForEvent('across', 'created');
  // The replica has everything before the master dies (else the failover loses it, as any Redis data).
  await waitFor(async () => Number(await client.wait(1, 1000)) >= 1, { what: 'the replica to acknowledge' });

  const killed = await sentinel.killMaster();
  await waitFor(async () => (await sentinel.master()).port !== killed.port, { timeout: 30_000, interval: 100, what: 'the sentinels to promote the replica' });
  await store.set('after', { cookie: cookieJson(1000) } as never);
  await store.destroy('across');
  await waitForEvent('after', 'expired');
  await waitForEvent('across', 'destroyed');
  expect(typesOf('before')).toEqual(['created', 'expired']);
  expect(typesOf('across')).toEqual(['created', 'destroyed']);
  expect(typesOf('after')).toEqual(['created', 'expired']);
}, 90_000);
