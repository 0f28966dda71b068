/**
 * The store's reads from memory (its `cache` option) across app servers in separate processes
 * sharing one Redis deployment, over real HTTP with cookies: what one server writes, logs out or
 * revokes, the other reads at once; the subscriber connections cut between writes; and a seeded
 * fuzz of writes, reads, logouts, deletes behind the servers' back, cut subscribers and evictions
 * (a cache smaller than the sessions in play), every read compared with what Redis holds.
 * Fed by a factory (multi-server.suite.ts's targets): standalone in reads-from-memory.test.ts, a
 * Cluster in reads-from-memory.cluster.test.ts.
 */
import { type CookieClient, seededRandom, startStallProxy, waitFor } from '@live-session/test-support';
import { type AppServer, login, startServers } from './helpers';
import type { MultiServerTarget } from './multi-server.suite';

/** How long a session deleted outside the library may still be served: the bound the core README documents. */
const DELETED_SERVED_FOR_MS = 1_000;

type Dict = Record<string, unknown>;

/** The session as an app server reads it: its id (null when logged out) and data. */
async function read(client: CookieClient): Promise<{ id: string | null; data: Dict }> {
  const { status, body } = await client.get('/session');
  if (status !== 200) throw new Error(`GET /session answered ${status}: ${JSON.stringify(body)}`);
  return body as { id: string | null; data: Dict };
}

/** `slowLink`: the deployment can be put behind a proxy (a standalone Redis: its `address`). */
export function readsFromMemorySuite(name: string, factory: () => Promise<MultiServerTarget>, { slowLink = false } = {}): void {
  describe(`reads from memory, app servers in separate processes (${name})`, () => {
    let target: MultiServerTarget;
    let A: AppServer;
    let B: AppServer;

    beforeAll(async () => {
      target = await factory();
      [A, B] = await startServers(2, target.env, { CACHE: '1', USER_INDEX: '1' });
    });
    afterAll(async () => {
      await Promise.all([A?.stop(), B?.stop()]);
      await target?.close();
    });

    test('a write on one server is read on the other at once: 20 sessions, writes alternating, 0 stale reads, read from memory', async () => {
      const clients = await Promise.all(Array.from({ length: 20 }, (_, i) => login(A, `reader-${i}`)));
      let stale = 0;
      for (let n = 1; n <= 10; n++) {
        const [writer, reader] = n % 2 ? [A, B] : [B, A];
        await Promise.all(clients.map((client) => client.forOrigin(writer.url).post('/set', { key: 'n', value: n })));
        const reads = await Promise.all(clients.map((client) => read(client.forOrigin(reader.url))));
        stale += reads.filter((session) => session.data.n !== n).length;
      }
      expect(stale).toBe(0);
      // Both servers follow the sessions they read (their caches hold them).
      for (const server of [A, B]) expect(((await fetch(`${server.url}/debug/followed`).then((r) => r.json())) as { followed: number }).followed).toBeGreaterThanOrEqual(20);
    });

    // A Cluster's nodes cannot be put behind one proxy (clients follow its topology): its reads check versions instead.
    (slowLink ? test : test.skip)('a server whose link to Redis is slow (every byte 40 ms late) still reads every write at once', async () => {
      // The change message reaches the slow server later than the browser's next request does:
      // only the PING that orders its read after the write keeps that read exact.
      const proxy = await startStallProxy(target.address!);
      proxy.latency = 40;
      const [slow] = await startServers(1, { ...target.env, REDIS_URL: proxy.url }, { CACHE: '1', USER_INDEX: '1' });
      try {
        const clients = await Promise.all(Array.from({ length: 5 }, (_, i) => login(A, `slow-${i}`)));
        await Promise.all(clients.map((client) => read(client.forOrigin(slow.url)))); // taken into its cache
        let stale = 0;
        for (let n = 1; n <= 10; n++) {
          await Promise.all(clients.map((client) => client.post('/set', { key: 'n', value: n })));
          const reads = await Promise.all(clients.map((client) => read(client.forOrigin(slow.url))));
          stale += reads.filter((session) => session.data.n !== n).length;
        }
        expect(stale).toBe(0);
      } finally {
        await slow.stop();
        await proxy.close();
      }
    });

    (slowLink ? test : test.skip)('a server whose link to Redis freezes (bytes held, nothing closed) answers errors, never old data; then reads again', async () => {
      const proxy = await startStallProxy(target.address!);
      const [frozen] = await startServers(1, { ...target.env, REDIS_URL: proxy.url }, { CACHE: '1', USER_INDEX: '1' });
      try {
        const client = await login(A, 'frozen');
        await client.post('/set', { key: 'n', value: 1 });
        expect((await read(client.forOrigin(frozen.url))).data.n).toBe(1); // taken into its cache
        proxy.freeze();
        await client.post('/set', { key: 'n', value: 2 }); // on A: the frozen server cannot hear of it
        // Every read on the frozen server fails with the store's timeout (the fixture's 1 s), none answers n: 1.
        const during = await Promise.all(Array.from({ length: 3 }, () => client.forOrigin(frozen.url).get('/session')));
        expect(during).toEqual(Array(3).fill({ status: 500, body: { error: 'ERR_LIVE_SESSION_TIMEOUT' } }));
        proxy.thaw();
        const after = await waitFor(async () => {
          const answer = await client.forOrigin(frozen.url).get('/session');
          return answer.status === 200 ? answer : undefined;
        }, { what: 'an answer once the link flows' });
        expect(after.body).toMatchObject({ data: { n: 2 } });
      } finally {
        proxy.thaw();
        await frozen.stop();
        await proxy.close();
      }
    });

    test('a logout and a revocation on one server are read on the other at once', async () => {
      const phone = await login(A, 'grace');
      const laptop = await login(B, 'grace');
      for (const server of [A, B]) for (const client of [phone, laptop]) expect((await read(client.forOrigin(server.url))).id).not.toBeNull();
      // "Log out my other devices" from the phone, on A: the laptop's session is gone on B at once.
      expect((await phone.post('/revoke-others')).body).toEqual({ n: 1 });
      expect((await read(laptop.forOrigin(B.url))).id).toBeNull();
      expect((await read(laptop)).id).toBeNull();
      // The phone logs out on B: gone on A at once.
      await phone.forOrigin(B.url).post('/logout');
      expect((await read(phone)).id).toBeNull();
    });

    test('subscriber connections cut between writes (CLIENT KILL TYPE pubsub): no read is stale', async () => {
      const clients = await Promise.all(Array.from({ length: 5 }, (_, i) => login(A, `cut-${i}`)));
      let stale = 0;
      for (let n = 1; n <= 8; n++) {
        await target.cutSubscribers();
        await Promise.all(clients.map((client) => client.post('/set', { key: 'n', value: n })));
        const reads = await Promise.all(clients.map((client) => read(client.forOrigin(B.url))));
        stale += reads.filter((session) => session.data.n !== n).length;
      }
      expect(stale).toBe(0);
    });

    test('a seeded fuzz of writes, reads, logouts, deletes, cut subscribers and evictions: every read equals Redis', async () => {
      // Small caches on two more servers, so sessions are taken in and let go all along; on a
      // standalone Redis, one of them on a slow link (messages reach it after the next request).
      const proxy = slowLink ? await startStallProxy(target.address!) : undefined;
      if (proxy) proxy.latency = 20;
      const [C] = await startServers(1, target.env, { CACHE: '6', USER_INDEX: '1' });
      const [D] = await startServers(1, proxy ? { ...target.env, REDIS_URL: proxy.url } : target.env, { CACHE: '6', USER_INDEX: '1' });
      try {
        const random = seededRandom(20_261_202);
        const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
        const servers = [C, D];
        // The model: what Redis holds for each browser (null: no session).
        const browsers: { client: CookieClient; expected: Dict | null; user: string }[] = [];
        for (let i = 0; i < 8; i++) browsers.push({ client: await login(C, `fuzz-${i}`), expected: { user: `fuzz-${i}` }, user: `fuzz-${i}` });
        let reads = 0;
        const mismatches: string[] = [];
        const check = async (step: number, client: CookieClient, expected: Dict) => {
          const session = await read(client);
          reads++;
          const { secret: _secret, ...data } = session.data;
          if (JSON.stringify(sorted(data)) !== JSON.stringify(sorted(expected))) mismatches.push(`step ${step}: read ${JSON.stringify(data)}, Redis holds ${JSON.stringify(expected)}`);
        };
        for (let step = 0; step < 200; step++) {
          const browser = pick(browsers);
          const client = browser.client.forOrigin(pick(servers).url);
          const roll = random();
          if (browser.expected === null) {
            // A browser without a session logs in again (on either server).
            const { status, body } = await client.post('/login', { user: browser.user });
            expect({ step, status, body }).toEqual({ step, status: 200, body: { ok: true } });
            browser.expected = { user: browser.user };
          } else if (roll < 0.4) {
            const key = pick(['a', 'b', 'c']);
            const value = Math.floor(random() * 1000);
            const { status, body } = await client.post('/set', { key, value });
            expect({ step, status, body }).toEqual({ step, status: 200, body: { ok: true } });
            browser.expected = { ...browser.expected, [key]: value };
            // Half the time the browser's next request follows at once, on either server: the
            // read that must not miss the write it just made.
            if (random() < 0.5) await check(step, browser.client.forOrigin(pick(servers).url), browser.expected);
          } else if (roll < 0.85) {
            await check(step, client, browser.expected);
          } else if (roll < 0.91) {
            await client.post('/logout');
            browser.expected = null;
          } else if (roll < 0.93) {
            const id = (await read(browser.client.forOrigin(C.url))).id;
            reads++;
            if (id === null) mismatches.push(`step ${step}: the session of ${browser.user} is gone before its delete`);
            else await target.del(`live_session:${id}`);
            // Deleted behind the servers' back (no message): a read that starts once the bound passed finds no session.
            await new Promise((resolve) => setTimeout(resolve, DELETED_SERVED_FOR_MS));
            const after = await read(client);
            reads++;
            if (after.id !== null) mismatches.push(`step ${step}: a deleted session was still served ${DELETED_SERVED_FOR_MS} ms after its DEL`);
            browser.expected = null; // the next step of this browser logs in again
          } else {
            await target.cutSubscribers();
          }
        }
        expect(mismatches).toEqual([]);
        expect(reads).toBeGreaterThan(100);
      } finally {
        await Promise.all([C.stop(), D.stop()]);
        await proxy?.close();
      }
    }, 120_000);
  });
}

/** A session's data as JSON with its keys in order, `user` included, to compare with the model. */
function sorted(data: Dict): Dict {
  return Object.fromEntries(Object.entries(data).sort(([a], [b]) => a.localeCompare(b)));
}
