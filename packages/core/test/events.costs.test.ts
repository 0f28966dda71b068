/**
 * What the `events` option costs, counted with MONITOR on real requests through express-session:
 * with it off, the store sends exactly what it sends without events (no argument, command or key
 * more); with it on, nothing more on a read-mostly request, nothing more on a write that neither
 * creates the session, moves its expiry back nor changes its owner, one command more otherwise (and,
 * inside a destroy script, the session's tombstone).
 * On both kinds of ioredis client (auto-pipelining: plain reads; without: the get script).
 */
import { startRedis, type TestRedis } from '@live-session/test-support';
import { LiveSessionStore } from '../src';
import { monitorClient, Resources, startApp } from './helpers';

const HOUR = 60 * 60 * 1000;
/** EVALSHA, or EVAL the first time (ioredis falls back to it while Redis does not know the script). */
const nameOf = (command: string[]) => (/^eval(sha)?$/i.test(command[0]) ? 'script' : command[0].toLowerCase());
/** The keys a command names: a script's, or the command's first argument. */
const keysOf = (command: string[]) => (/^eval(sha)?$/i.test(command[0]) ? command.slice(3, 3 + Number(command[2])) : command.slice(1, 2));

let redis: TestRedis;
const resources = new Resources();
beforeAll(async () => {
  redis = await startRedis();
  resources.add(redis, (r) => r.close());
});
afterAll(() => resources.closeAll());

/** The commands of one browser's life: sign-in (creates), three reads, a change, a "remember me" change, logout. */
async function life(storeOptions: { events: boolean; autoPipelining: boolean }) {
  const admin = resources.redis(redis);
  const client = resources.redis(redis, { enableAutoPipelining: storeOptions.autoPipelining });
  const prefix = `cost[${storeOptions.events ? 'on' : 'off'}-${storeOptions.autoPipelining ? 'batch' : 'plain'}]:`;
  const store = new LiveSessionStore({ client, prefix, events: storeOptions.events });
  const app = await startApp(resources, store, { cookie: { maxAge: HOUR } });
  const browser = app.client();
  const monitor = await monitorClient(resources, admin, client);
  const steps: Record<string, string[][]> = {};
  steps.create = (await browser.post('/count'), await monitor.take());
  steps.reads = [];
  for (let i = 0; i < 3; i++) {
    await browser.get('/session');
    steps.reads.push(...(await monitor.take()));
  }
  steps.write = (await browser.post('/count'), await monitor.take());
  steps.shorter = (await browser.post('/remember', { maxAge: 60_000 }), await monitor.take());
  steps.logout = (await browser.post('/logout'), await monitor.take());
  const inScripts = await monitorClient(resources, admin, client, { scripts: true });
  const other = app.client();
  await other.post('/count');
  await other.get('/session');
  await other.post('/logout');
  const everything = await inScripts.take();
  expect(app.errors).toEqual([]);
  return { steps, everything, prefix };
}

describe.each([true, false])('events and their cost (ioredis, enableAutoPipelining: %s)', (autoPipelining) => {
  it('with events off: exactly what the store sends without them, naming only session keys', async () => {
    const { steps, everything, prefix } = await life({ events: false, autoPipelining });
    const read = autoPipelining ? ['hgetall', 'pexpireat'] : ['script'];
    expect(steps.create.map(nameOf)).toEqual(['script']);
    expect(steps.reads.map(nameOf)).toEqual([...read, ...read, ...read]);
    expect(steps.write.map(nameOf)).toEqual([autoPipelining ? 'hgetall' : 'script', 'script']);
    expect(steps.logout.map(nameOf)).toEqual([autoPipelining ? 'hgetall' : 'script', 'script']);
    // The write's header has its twelve fields, no thirteenth (lua/write.lua).
    const writeHeader = steps.write[1][4];
    expect(writeHeader.split(' ')).toHaveLength(12);
    // Every command, those run inside the scripts included, names a session key and nothing else.
    for (const command of everything) for (const key of keysOf(command)) expect(key.startsWith(prefix)).toBe(true);
    expect(everything.flat().some((arg) => arg.includes('events:'))).toBe(false);
  });

  it('with events on: nothing more on reads and on a write that keeps the cookie; one command more on a creation, a cookie change and a logout', async () => {
    const off = (await life({ events: false, autoPipelining })).steps;
    const withEvents = await life({ events: true, autoPipelining });
    const on = withEvents.steps;
    const extra = (step: string) => on[step].length - off[step].length;
    expect(on.reads.map(nameOf)).toEqual(off.reads.map(nameOf));
    expect(extra('reads')).toBe(0);
    expect(extra('write')).toBe(0);
    expect(extra('create')).toBe(1);
    expect(extra('shorter')).toBe(1); // maxAge an hour -> a minute: the expiry moved back
    expect(extra('logout')).toBe(1);
    // The one more command is a script on a shard's due key.
    for (const step of ['create', 'shorter', 'logout']) expect(keysOf(on[step].at(-1)!)[0]).toMatch(/^\{cost\[on-(batch|plain)\]:events:0\}due$/);
    // Inside the logout's destroy script: the session's tombstone, in its slot, written after the DEL (lua/destroy.lua).
    const inside = withEvents.everything.map((command) => [command[0].toLowerCase(), ...command.slice(1)]);
    const del = inside.findIndex(([name, key]) => name === 'del' && key.startsWith(withEvents.prefix));
    expect(del).toBeGreaterThanOrEqual(0);
    const tombstone = inside.findIndex(([name, key]) => name === 'set' && key === `{${inside[del][1]}}:ended`);
    expect(tombstone).toBeGreaterThan(del);
    expect(inside[tombstone]).toEqual(['set', `{${inside[del][1]}}:ended`, expect.stringMatching(/^destroyed:\d+:\d+$/), 'PX', expect.stringMatching(/^\d+$/)]);
  });
});
