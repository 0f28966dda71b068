/**
 * Session events (the store's `events` option and watchSessions), as a suite fed by a factory so
 * the same tests run on every client (ioredis, node-redis) against a standalone Redis
 * (events.test.ts), a 3-master Cluster (events.cluster.test.ts) and Sentinel (events.sentinel.test.ts).
 * The watchers here run in the test's process; events.fleet.test.ts runs them as separate servers.
 */
import { type TestClient, waitFor } from '@live-session/test-support';
import { LiveSessionError, LiveSessionStore, type SessionEvent, type SessionWatcher, watchSessions, type WatchOptions } from '../src';
import { tombstoneOf } from '../src/events/tombstone';
import type { BatchReply, KeyedCommand, Script } from '../src/redis';
import { cookieJson } from './helpers';

export interface EventsTarget {
  client: TestClient;
  /** Opens one more client to the same Redis (a second "server"). */
  another(): Promise<TestClient>;
  close(): Promise<void>;
}

type Dict = Record<string, unknown>;
const HOUR = 60 * 60 * 1000;

/** The events a watcher got, by session id. */
class Received {
  readonly all: SessionEvent[] = [];
  readonly errors: LiveSessionError[] = [];

  add = (event: SessionEvent): void => {
    this.all.push(event);
  };

  of(sid: string): SessionEvent[] {
    return this.all.filter((event) => event.sid === sid);
  }

  types(sid: string): string[] {
    return this.of(sid).map((event) => event.type);
  }

  async waitFor(sid: string, type: string, timeout = 15_000): Promise<SessionEvent> {
    return waitFor(() => this.of(sid).find((event) => event.type === type), { timeout, what: `a ${type} event of ${sid} (got ${this.types(sid).join(', ') || 'none'})` });
  }

  /** The first end of `sid`, whatever its type. */
  async end(sid: string, timeout = 15_000): Promise<SessionEvent> {
    return waitFor(() => this.of(sid).find((event) => event.type !== 'created'), { timeout, what: `the end of ${sid} (got ${this.types(sid).join(', ') || 'none'})` });
  }
}

const userOf = (session: unknown) => {
  const user = (session as Dict).user;
  return typeof user === 'string' ? user : null;
};

/** A promise, and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

/**
 * An app server whose records of ends (the one command the store sends after its destroy script)
 * are `held` until `release()`, or `dropped` (the server died between its two commands: they never reach Redis).
 */
function withEndRecords(server: LiveSessionStore, mode: 'held' | 'dropped'): { release(): void; sent(): number } {
  const redis = server.redis;
  const script = redis.script.bind(redis);
  const gate = deferred();
  let sent = 0;
  redis.script = (run: Script, key: string, args: readonly (string | number)[]) => {
    if (run.name !== 'liveSessionEventsRecord' || args[0] !== 'ended') return script(run, key, args);
    if (mode === 'dropped') return Promise.resolve(0);
    return gate.promise.then(() => (sent++, script(run, key, args)));
  };
  return { release: gate.resolve, sent: () => sent };
}

/** A session whose cookie makes it expire `ms` from now. */
const expiringIn = (ms: number, data: Dict = {}) => ({ cookie: cookieJson(ms), ...data }) as never;

export function eventsSuite(name: string, factory: () => Promise<EventsTarget>, { prefix = 'ev[a]:' } = {}): void {
  describe(`Session events (${name})`, () => {
    let target: EventsTarget;
    let client: TestClient;
    let store: LiveSessionStore;
    const watchers: SessionWatcher[] = [];
    let counter = 0;
    const newSid = (label: string) => `${label}-${process.pid}-${++counter}`;
    const watch = (received: Received, options: WatchOptions = {}, on = store): SessionWatcher => {
      const watcher = watchSessions(
        on,
        { created: received.add, destroyed: received.add, expired: received.add, revoked: received.add },
        { onError: (err) => received.errors.push(err), claimAfter: 1000, ...options },
      );
      watchers.push(watcher);
      return watcher;
    };

    beforeAll(async () => {
      target = await factory();
      client = target.client;
      store = new LiveSessionStore({ client: client.client, prefix, events: true, userOf, describe: () => ({ device: 'test' }), timeout: 10_000 });
    });
    afterAll(async () => {
      await Promise.all(watchers.splice(0).map((watcher) => watcher.close()));
      await target?.close();
    });
    afterEach(async () => {
      await Promise.all(watchers.splice(0).map((watcher) => watcher.close()));
    });

    it('reports a creation, a logout, a revocation and an expiry, each once, with who, when and what describe recorded', async () => {
      const received = new Received();
      watch(received);
      const [loggedOut, revoked, expired, anonymous] = ['logout', 'revoked', 'expired', 'anonymous'].map(newSid);
      const before = Date.now();
      await store.set(loggedOut, expiringIn(HOUR, { user: 'ada' }));
      await store.set(revoked, expiringIn(HOUR, { user: 'bob' }));
      await store.set(expired, expiringIn(1500, { user: 'cy' }));
      await store.set(anonymous, expiringIn(HOUR));
      const created = await received.waitFor(loggedOut, 'created');
      expect(created).toMatchObject({ type: 'created', sid: loggedOut, user: 'ada', info: { device: 'test' }, attempt: 1 });
      expect(created.createdAt).toBeGreaterThanOrEqual(before);
      expect(created.at).toBe(created.createdAt);
      expect(created.id).toBe(`c:${created.createdAt}:${loggedOut}`);
      expect(await received.waitFor(anonymous, 'created')).toMatchObject({ user: null, info: null });

      await store.destroy(loggedOut);
      const destroyed = await received.waitFor(loggedOut, 'destroyed');
      expect(destroyed).toMatchObject({ sid: loggedOut, user: 'ada', createdAt: created.createdAt, info: { device: 'test' } });
      expect(destroyed.id).toBe(`e:${created.createdAt}:${loggedOut}`);
      expect(destroyed.at).toBeGreaterThanOrEqual(destroyed.createdAt);

      expect(await store.destroySessionsOf('bob')).toBe(1);
      expect(await received.waitFor(revoked, 'revoked')).toMatchObject({ user: 'bob' });

      const ended = await received.waitFor(expired, 'expired');
      expect(ended).toMatchObject({ user: 'cy' });
      // `at` is when Redis's expiry passed (the cookie's), not when it was noticed.
      const cookieExpiry = ended.createdAt + 1500;
      expect(Math.abs(ended.at - cookieExpiry)).toBeLessThan(1000);

      // Nothing more comes: a later look finds nothing else to report.
      await store.destroy(anonymous);
      await received.waitFor(anonymous, 'destroyed');
      for (const sid of [loggedOut, revoked, expired]) expect(received.types(sid).sort()).toEqual(['created', sid === loggedOut ? 'destroyed' : sid === revoked ? 'revoked' : 'expired'].sort());
      expect(received.errors).toEqual([]);
      // No keyspace notification was involved: they are off on every master, and no one listens for them.
      for (const config of await client.onEveryMaster('CONFIG', 'GET', 'notify-keyspace-events')) expect(JSON.stringify(config)).not.toMatch(/[KE]/);
      expect(await client.onEveryMaster('PUBSUB', 'NUMPAT')).toEqual((await client.onEveryMaster('PING')).map(() => 0));
    });

    it('hands each event to exactly one of several watchers (one consumer group)', async () => {
      const other = await target.another();
      try {
        const second = new LiveSessionStore({ client: other.client, prefix, events: true, userOf, timeout: 10_000 });
        const [a, b, c] = [new Received(), new Received(), new Received()];
        watch(a);
        watch(b, {}, second);
        watch(c);
        const sids = Array.from({ length: 60 }, () => newSid('fleet'));
        await Promise.all(sids.map((sid, i) => store.set(sid, expiringIn(i % 3 === 0 ? 1000 : HOUR))));
        await Promise.all(sids.filter((_, i) => i % 3 === 1).map((sid) => second.destroy(sid)));
        const all = () => [...a.all, ...b.all, ...c.all];
        // 60 created, 20 destroyed, 20 expired: 100 events; the 20 others keep living.
        await waitFor(() => all().length >= 100, { timeout: 20_000, what: `100 events, got ${all().length}` });
        const ids = all().map((event) => event.id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(all().filter((event) => event.type === 'expired').map((event) => event.sid).sort()).toEqual(sids.filter((_, i) => i % 3 === 0).sort());
        expect(all().filter((event) => event.type === 'destroyed').map((event) => event.sid).sort()).toEqual(sids.filter((_, i) => i % 3 === 1).sort());
      } finally {
        await other.close();
      }
    });

    it('never reports expired a session touched right before its TTL passed', async () => {
      const received = new Received();
      watch(received);
      const LIFE = 1200;
      const sids = Array.from({ length: 40 }, () => newSid('touched'));
      await Promise.all(sids.map((sid) => store.set(sid, expiringIn(LIFE))));
      // Each one is used 1 to 20 ms before it would expire: half by a request's touch (a new cookie of an
      // hour), half by touchSession (a socket's activity: the session's own lifetime again). Neither
      // tells the events anything: the watcher's check at the old expiry finds them alive.
      /** The expiry each session had before it was used, for those the use reached. */
      const touchedAt = new Map<string, number>();
      await Promise.all(
        sids.map(async (sid, i) => {
          const expiresAt = (await store.getExpiries([sid])).get(sid)!;
          await waitFor(() => Date.now() >= expiresAt - 1 - (i % 20), { interval: 1, what: 'the moment to touch' });
          const moved = i % 2 === 0 ? (await store.touch(sid, { cookie: cookieJson(HOUR) } as never), await store.getSessionState(sid)) : await store.touchSession(sid);
          if (moved) touchedAt.set(sid, expiresAt);
        }),
      );
      // The ones the touch reached live on (Redis may have expired a few first: those are reported expired).
      expect(touchedAt.size).toBeGreaterThan(0);
      for (const sid of sids.filter((sid) => !touchedAt.has(sid))) await received.waitFor(sid, 'expired');
      const byRequest = sids.filter((sid, i) => i % 2 === 0 && touchedAt.has(sid));
      const bySocket = sids.filter((sid, i) => i % 2 === 1 && touchedAt.has(sid));
      // A touchSession gave another LIFE: reported expired once that has passed, at that time (give or
      // take the few ms between Redis's clock and the watcher's), never at the old expiry.
      for (const sid of bySocket) {
        const ended = await received.waitFor(sid, 'expired');
        expect(ended.at).toBeGreaterThan(touchedAt.get(sid)! + LIFE / 2);
      }
      await Promise.all(byRequest.map((sid) => store.destroy(sid)));
      for (const sid of byRequest) await received.waitFor(sid, 'destroyed');
      for (const sid of byRequest) expect(received.types(sid)).toEqual(['created', 'destroyed']);
      for (const sid of bySocket) expect(received.types(sid)).toEqual(['created', 'expired']);
    });

    it('follows an expiry moved back (a shorter cookie): reported when the new one passes, not the old', async () => {
      const received = new Received();
      watch(received);
      const byWrite = newSid('shortened');
      const byTouch = newSid('shortened');
      await store.set(byWrite, expiringIn(HOUR));
      await store.set(byTouch, expiringIn(HOUR));
      await store.set(byWrite, expiringIn(800));
      await store.touch(byTouch, { cookie: cookieJson(800) } as never);
      for (const sid of [byWrite, byTouch]) expect((await received.waitFor(sid, 'expired')).at).toBeLessThan(Date.now() + HOUR / 2);
    });

    it('reports a session revoked while it expires once, with one reason', async () => {
      const received = new Received();
      watch(received);
      const LIFE = 1000;
      const users = Array.from({ length: 30 }, (_, i) => `racer-${process.pid}-${counter}-${i}`);
      const sids = users.map(() => newSid('race'));
      await Promise.all(sids.map((sid, i) => store.set(sid, expiringIn(LIFE, { user: users[i] }))));
      const expiries = await Promise.all(sids.map(async (sid) => (await store.getSessionState(sid))!.expiresAt!));
      // Each revoked from 15 ms before to 15 ms after its expiry.
      const revoked = await Promise.all(
        users.map(async (user, i) => {
          await waitFor(() => Date.now() >= expiries[i] - 15 + i, { interval: 1, what: 'the moment to revoke' });
          return store.destroySessionsOf(user);
        }),
      );
      for (const sid of sids) await waitFor(() => received.of(sid).some((event) => event.type !== 'created'), { timeout: 15_000, what: `the end of ${sid}` });
      // A later look must not add a second end: a session ending afterwards is reported after these.
      const marker = newSid('marker');
      await store.set(marker, expiringIn(HOUR));
      await store.destroy(marker);
      await received.waitFor(marker, 'destroyed');
      sids.forEach((sid, i) => {
        const ends = received.of(sid).filter((event) => event.type !== 'created');
        expect(ends).toHaveLength(1);
        // A revocation that found the session gone reports nothing: the expiry is the one reason.
        if (revoked[i] === 0) expect(ends[0].type).toBe('expired');
        else expect(['revoked', 'expired']).toContain(ends[0].type);
      });
    });

    it('a server that dies between its destroy script and its record: each end is reported for what it was, at its time, never as expired', async () => {
      const received = new Received();
      watch(received);
      const other = await target.another();
      try {
        const dying = new LiveSessionStore({ client: other.client, prefix, events: true, userOf, timeout: 10_000 });
        withEndRecords(dying, 'dropped');
        const user = `doomed-${process.pid}-${++counter}`;
        // Owned sessions are looked at a second after their creation (a change of hands caps the
        // expiry meanwhile); the anonymous one when its cookie expires, after its destroy; ids with
        // braces put the session key (and so its tombstone) in the slot of a hash tag, or not.
        const [loggedOut, revoked, anonymous] = [newSid('dies-logout'), newSid('dies-revoked'), newSid('dies-anonymous')];
        const braced = ['a}b', '{}c', 'd{tag}e', '{f', 'g}{h}', '{ü}'].map((sid) => `${sid}-${process.pid}-${++counter}`);
        await store.set(loggedOut, expiringIn(HOUR, { user: `${user}-a` }));
        await store.set(revoked, expiringIn(HOUR, { user }));
        await store.set(anonymous, expiringIn(3000));
        await Promise.all(braced.map((sid) => store.set(sid, expiringIn(HOUR, { user: `${user}-b` }))));
        for (const sid of [loggedOut, revoked, anonymous, ...braced]) await received.waitFor(sid, 'created');
        const before = Date.now();
        await dying.destroy(anonymous);
        await dying.destroy(loggedOut);
        expect(await dying.destroySessionsOf(user)).toBe(1);
        await Promise.all(braced.map((sid) => dying.destroy(sid)));
        const after = Date.now();
        const ends = new Map([[loggedOut, 'destroyed'], [revoked, 'revoked'], [anonymous, 'destroyed'], ...braced.map((sid) => [sid, 'destroyed'] as const)]);
        for (const [sid, type] of ends) {
          const end = await received.end(sid);
          expect({ sid, type: end.type }).toEqual({ sid, type });
          expect(end.at).toBeGreaterThanOrEqual(before);
          expect(end.at).toBeLessThanOrEqual(after);
          expect(end.id).toBe(`e:${end.createdAt}:${sid}`);
        }
        expect(received.of(revoked)[1]).toMatchObject({ user, info: { device: 'test' } });
        // Nothing more comes for them.
        const marker = newSid('marker');
        await store.set(marker, expiringIn(HOUR));
        await store.destroy(marker);
        await received.waitFor(marker, 'destroyed');
        for (const [sid, type] of ends) expect(received.types(sid)).toEqual(['created', type]);
        expect(received.errors).toEqual([]);
      } finally {
        await other.close();
      }
    });

    it.each(['the watcher settles', 'the store records the end'])(
      'a destroy that lands while a watcher checks its due entry: one end, the destroy, when %s first',
      async (first) => {
        const received = new Received();
        const watcherClient = await target.another();
        const serverClient = await target.another();
        try {
          const server = new LiveSessionStore({ client: serverClient.client, prefix, events: true, userOf, timeout: 10_000 });
          const records = withEndRecords(server, 'held');
          const watching = new LiveSessionStore({ client: watcherClient.client, prefix, events: true, timeout: 10_000 });
          const sid = newSid('checked');
          const key = watching.keyOf(sid);
          let destroying: Promise<void> | undefined;
          let before = 0;
          // The watcher's check of `sid`: the destroy script runs between its claim and its PTTL.
          const redis = watching.redis;
          const batch = redis.batch.bind(redis);
          redis.batch = async (commands: readonly KeyedCommand[]): Promise<BatchReply[]> => {
            if (!destroying && commands.some((command) => command.key === key && 'args' in command && command.args[0] === 'PTTL')) {
              before = Date.now();
              destroying = server.destroy(sid);
              await waitFor(async () => Number(await client.command(key, 'EXISTS', key)) === 0, { interval: 5, what: 'the destroy script' });
            }
            return batch(commands);
          };
          // ... and, when the store records first, its record lands before the watcher's settle.
          const script = redis.script.bind(redis);
          redis.script = async (run: Script, scriptKey: string, args: readonly (string | number)[]) => {
            if (first === 'the store records the end' && destroying && run.name === 'liveSessionEventsSettle' && args.includes(sid) && records.sent() === 0) {
              records.release();
              await destroying;
            }
            return script(run, scriptKey, args);
          };
          watch(received, {}, watching);
          await store.set(sid, expiringIn(HOUR, { user: `checked-${process.pid}-${counter}` })); // due a second later (an owner)
          await received.waitFor(sid, 'created');
          const end = await received.end(sid);
          expect(end.type).toBe('destroyed');
          records.release();
          await destroying;
          expect(records.sent()).toBe(1);
          expect(end.at).toBeGreaterThanOrEqual(before);
          expect(end.at).toBeLessThanOrEqual(Date.now());
          const marker = newSid('marker');
          await store.set(marker, expiringIn(HOUR));
          await store.destroy(marker);
          await received.waitFor(marker, 'destroyed');
          expect(received.types(sid)).toEqual(['created', 'destroyed']);
          expect(received.errors).toEqual([]);
        } finally {
          await Promise.all(watchers.splice(0).map((watcher) => watcher.close()));
          await Promise.all([watcherClient.close(), serverClient.close()]);
        }
      },
    );

    it("does not take a tombstone of another life of the id for this life's end", async () => {
      const received = new Received();
      watch(received);
      const sid = newSid('other-life');
      await store.set(sid, expiringIn(HOUR, { user: `life-${process.pid}-${counter}` })); // due a second later (an owner)
      const created = await received.waitFor(sid, 'created');
      // The session vanishes as an expiry would; meanwhile a later life of the id was destroyed, and its tombstone is there.
      const key = store.keyOf(sid);
      const tombstone = tombstoneOf(key);
      await client.command(key, 'DEL', key);
      await client.command(tombstone, 'SET', tombstone, `destroyed:${Date.now()}:${created.createdAt + 1}`, 'PX', 60_000);
      await received.end(sid);
      expect(received.types(sid)).toEqual(['created', 'expired']);
    });

    it("puts a session's tombstone in the session key's Cluster slot, whatever braces its id holds", async () => {
      const sids = ['plain', 'a}b', '{}c', 'd{tag}e', '{f', 'g}{h}', '}{', '{}', '{{}}', 'x{}}{y}', '{ü}', 'é}'];
      const keys = [...sids.map((sid) => store.keyOf(sid)), 'no-brace', '{tag}x', 'a{b', 'a}b{c}', 'a{}b{c}'];
      const names = keys.map(tombstoneOf);
      expect(new Set(names).size).toBe(keys.length);
      for (const name of names) expect(name.startsWith('{')).toBe(true); // never under a session prefix
      if (!client.isCluster) return;
      const slot = async (key: string) => (await client.onEveryMaster('CLUSTER', 'KEYSLOT', key))[0];
      for (const [i, key] of keys.entries()) expect({ name: names[i], slot: await slot(names[i]) }).toEqual({ name: names[i], slot: await slot(key) });
    });

    it('delivers again an event whose handler failed, with its attempt number, and gives it up after maxAttempts', async () => {
      const errors: LiveSessionError[] = [];
      const attempts: number[] = [];
      const watcher = watchSessions(
        store,
        {
          created: (event) => {
            if (!event.sid.startsWith('flaky')) return;
            attempts.push(event.attempt);
            if (event.attempt < 2) throw new Error('the database is down');
          },
          destroyed: (event) => {
            if (event.sid.startsWith('poison')) throw new Error('never works');
          },
        },
        { claimAfter: 300, maxAttempts: 2, onError: (err) => errors.push(err) },
      );
      watchers.push(watcher);
      const flaky = newSid('flaky');
      await store.set(flaky, expiringIn(HOUR));
      await waitFor(() => attempts.includes(2), { what: 'the second attempt' });
      expect(attempts).toEqual([1, 2]);
      expect(errors[0]).toMatchObject({ code: 'ERR_LIVE_SESSION_HANDLER', cause: { message: 'the database is down' } });

      const poison = newSid('poison');
      await store.set(poison, expiringIn(HOUR));
      await store.destroy(poison);
      await waitFor(() => errors.some((err) => err.code === 'ERR_LIVE_SESSION_EVENT_DROPPED'), { what: 'the event to be given up' });
      expect(errors.filter((err) => err.code === 'ERR_LIVE_SESSION_HANDLER' && err.message.includes(poison))).toHaveLength(2);
    });

    it('adopts sessions created before events were on: their end is reported, their creation is not', async () => {
      const plain = new LiveSessionStore({ client: client.client, prefix, userOf });
      const before = newSid('before');
      await plain.set(before, expiringIn(1500, { user: 'dee' }));
      const received = new Received();
      const watcher = watch(received, { sweepInterval: 0 });
      expect(await watcher.sweepNow()).toBeGreaterThanOrEqual(1);
      expect(await watcher.sweepNow()).toBe(0); // adopted once
      const ended = await received.waitFor(before, 'expired');
      expect(ended).toMatchObject({ user: 'dee' });
      expect(received.types(before)).toEqual(['expired']);
    });

    it('refuses what it cannot do with LiveSessionError', () => {
      const plain = new LiveSessionStore({ client: client.client, prefix });
      const code = (fn: () => unknown) => {
        try {
          fn();
        } catch (err) {
          return (err as LiveSessionError).code;
        }
        return 'no error';
      };
      expect(code(() => watchSessions(plain, {}))).toBe('ERR_LIVE_SESSION_INVALID_ARGUMENT');
      expect(code(() => watchSessions(store, { logout: () => undefined } as never))).toBe('ERR_LIVE_SESSION_INVALID_ARGUMENT');
      expect(code(() => watchSessions(store, { expired: 'yes' } as never))).toBe('ERR_LIVE_SESSION_INVALID_ARGUMENT');
      expect(code(() => watchSessions(store, {}, { claimAfter: -1 }))).toBe('ERR_LIVE_SESSION_INVALID_ARGUMENT');
      expect(code(() => watchSessions(store, {}, { clamAfter: 1000 } as never))).toBe('ERR_LIVE_SESSION_INVALID_ARGUMENT');
      // The store's options are checked as all its options are: a TypeError naming the option.
      expect(() => new LiveSessionStore({ client: client.client, events: 'yes' } as never)).toThrow(/option "events" must be true or false/);
      expect(() => new LiveSessionStore({ client: client.client, events: true, eventShards: 0 })).toThrow(/"eventShards" must be a whole number/);
      expect(() => new LiveSessionStore({ client: client.client, events: true, prefix: '' })).toThrow(/must not be empty or start with "\{"/);
    });
  });
}
