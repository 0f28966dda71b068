/**
 * A master killed during live traffic, as a suite fed by a factory (a Cluster with replicas in
 * failover.cluster.test.ts, Sentinel in failover.sentinel.test.ts): two app servers take HTTP
 * writes for several sessions whose sockets listen on both servers; the master dies; after the
 * replica takes over, writes succeed, every socket converges to the final state, and no app server
 * crashes. The window in which writes failed is measured and printed, never asserted.
 */
import { waitFor } from '@live-session/test-support';
import { type AppServer, login, RecordingSocket, startServers } from './helpers';

export interface FailoverTarget {
  /** The environment that tells the app servers (fixtures/server.js) how to reach Redis. */
  env: Record<string, string>;
  /** Kills (SIGKILL) the master that holds `key`. */
  killMasterOf(key: string): Promise<void>;
  /** Resolves once a replica has taken over from the killed master. */
  failedOver(): Promise<void>;
  close(): Promise<void>;
}

interface Attempt {
  session: number;
  start: number;
  end: number;
  ok: boolean;
}

/** Consecutive successful writes, after the kill, that tell a session's writer to stop. */
const RECOVERED_AFTER = 5;
const SESSIONS = 6;

export function failoverSuite(name: string, factory: () => Promise<FailoverTarget>): void {
  describe(`failover (${name})`, () => {
    let target: FailoverTarget;
    let A: AppServer;
    let B: AppServer;
    const sockets: RecordingSocket[] = [];

    beforeAll(async () => {
      target = await factory();
      [A, B] = await startServers(2, target.env);
    });

    afterAll(async () => {
      for (const socket of sockets.splice(0)) socket.close();
      await Promise.all([A?.stop(), B?.stop()]);
      await target?.close();
    });

    test('a master killed mid-traffic: writes succeed after the failover, every socket converges, no process crashes', async () => {
      const users = Array.from({ length: SESSIONS }, (_, i) => `user-${i}`);
      const clients = await Promise.all(users.map((user) => login(A, user)));
      const ids = await Promise.all(clients.map(async (client) => (await client.get('/session')).body.id as string));
      for (const [i, client] of clients.entries()) {
        for (const server of [A, B]) sockets.push(await RecordingSocket.open(server.url, client.cookieHeader));
        await Promise.all(sockets.slice(-2).map((socket) => socket.until((s) => s.user === users[i])));
      }

      // Live traffic: one writer per session, alternating between the two servers.
      const attempts: Attempt[] = [];
      let killedAt: number | undefined;
      const recovered = new Set<number>();
      const writers = clients.map(async (client, session) => {
        const servers = [client, client.forOrigin(B.url)];
        let streak = 0;
        for (let n = 1; !recovered.has(session); n++) {
          const start = Date.now();
          const { status } = await servers[n % 2].post('/set', { key: 'counter', value: n }).catch(() => ({ status: 0 }));
          const attempt = { session, start, end: Date.now(), ok: status === 200 };
          attempts.push(attempt);
          if (killedAt === undefined || start < killedAt) continue;
          streak = attempt.ok ? streak + 1 : 0;
          if (streak >= RECOVERED_AFTER) recovered.add(session);
        }
      });
      const done = Promise.all(writers);
      await waitFor(() => ids.every((_, i) => attempts.filter((a) => a.session === i && a.ok).length >= 3), { what: 'traffic on every session' });

      try {
        killedAt = Date.now();
        await target.killMasterOf(`live_session:${ids[0]}`);
        await target.failedOver();
        await waitFor(() => recovered.size === SESSIONS, { timeout: 30_000, what: 'writes to succeed again on every session' });
      } finally {
        for (let i = 0; i < SESSIONS; i++) recovered.add(i); // stops any writer still going
        await done;
      }

      // Every socket converges to the state the traffic left, with no further write to help it along.
      const left = await Promise.all(clients.map(async (client) => (await client.get('/session')).body.data.counter as number));
      await Promise.all(sockets.map((socket, s) => socket.until((v) => v.counter === left[Math.floor(s / 2)], `the last write of ${users[Math.floor(s / 2)]}`)));

      // A final write per session succeeds, and every socket ends up with it.
      for (const [i, client] of clients.entries()) {
        expect({ session: i, status: (await client.post('/set', { key: 'counter', value: 'final' })).status }).toEqual({ session: i, status: 200 });
      }
      await Promise.all(sockets.map((socket) => socket.until((s) => s.counter === 'final', 'the final write')));
      for (const client of clients) {
        for (const reader of [client, client.forOrigin(B.url)]) expect((await reader.get('/session')).body.data.counter).toBe('final');
      }
      for (const server of [A, B]) {
        expect({ exitCode: server.process.exitCode, signal: server.process.signalCode }).toEqual({ exitCode: null, signal: null });
        expect(server.output()).not.toMatch(/Unhandled|uncaught/i);
      }

      report(name, killedAt, attempts);
    });
  });
}

/** Prints the window in which writes failed: from the kill to the end of the last failed write. */
function report(name: string, killedAt: number, attempts: Attempt[]): void {
  const failed = attempts.filter((a) => !a.ok);
  const perSession = Array.from({ length: SESSIONS }, (_, session) => {
    const mine = failed.filter((a) => a.session === session);
    return mine.length === 0 ? 0 : Math.max(...mine.map((a) => a.end)) - killedAt;
  });
  const firstFailure = failed.length === 0 ? 0 : Math.min(...failed.map((a) => a.start)) - killedAt;
  const writes = attempts.filter((a) => a.start >= killedAt).length;
  process.stdout.write(
    `FAILOVER ${name}: writes failed until ${Math.max(0, ...perSession)} ms after the kill ` +
      `(first failed write started at +${firstFailure} ms; ${failed.length} of ${writes} writes after the kill failed; ` +
      `per session: ${perSession.map((ms) => `${ms} ms`).join(', ')})\n`,
  );
}
