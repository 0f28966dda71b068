/**
 * A local Sentinel deployment for a test file: one master, one replica and three sentinels
 * (`redis-server --sentinel`, with a generated config each) on free ports; removed by `close()`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { redisCli, type RedisProcess, redisProcess } from './redis-process';
import { waitFor } from './wait';

export interface StartSentinelOptions {
  /** The name the sentinels monitor the master under (ioredis's `name` option). @default "live-session" */
  name?: string;
  /** `down-after-milliseconds`: how long the master may be unreachable before a failover. @default 1000 */
  downAfter?: number;
}

export interface Address {
  host: string;
  port: number;
}

export interface TestSentinel {
  /** The monitored master's name. */
  name: string;
  /** The sentinels, for ioredis: `new Redis({ sentinels, name })`. */
  sentinels: Address[];
  /** The data nodes: the first master, then its replica. */
  servers: Address[];
  /** The master as the sentinels see it right now. */
  master(): Promise<Address>;
  /** Kills the current master with SIGKILL; resolves to its address. */
  killMaster(): Promise<Address>;
  /** Stops every process and removes their files. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startSentinel({ name = 'live-session', downAfter = 1000 }: StartSentinelOptions = {}): Promise<TestSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'live-session-sentinel-'));
  const processes: RedisProcess[] = [];
  const close = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // No 5 s wait before the first full sync (repl-diskless-sync-delay).
    const dataArgs = (port: number) => ['--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0', '--dir', dir, '--dbfilename', `dump-${port}.rdb`];
    const masterPort = await freePort();
    const master = redisProcess({ host: HOST, port: masterPort, args: dataArgs(masterPort) });
    processes.push(master);
    await master.start();
    const replicaPort = await freePort();
    const replica = redisProcess({ host: HOST, port: replicaPort, args: [...dataArgs(replicaPort), '--replicaof', HOST, String(masterPort)] });
    processes.push(replica);
    await replica.start();
    const servers = [master, replica];
    await waitFor(async () => /master_link_status:up/.test(await redisCli(HOST, replicaPort, 'INFO', 'replication')), {
      interval: 100,
      what: 'the replica to sync with the master',
    });

    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const configFile = join(dir, `sentinel-${port}.conf`);
      // The sentinel rewrites this file as it learns the topology.
      writeFileSync(
        configFile,
        [
          `sentinel monitor ${name} ${HOST} ${masterPort} 2`,
          `sentinel down-after-milliseconds ${name} ${downAfter}`,
          `sentinel failover-timeout ${name} 10000`,
          `sentinel parallel-syncs ${name} 1`,
          '',
        ].join('\n'),
      );
      const sentinel = redisProcess({ host: HOST, port, configFile, args: ['--sentinel', '--dir', dir] });
      processes.push(sentinel);
      sentinels.push(sentinel);
    }
    await Promise.all(sentinels.map((s) => s.start()));
    // Ready for a failover once each sentinel knows the replica and the two other sentinels.
    await waitFor(
      async () => {
        for (const s of sentinels) {
          const others = await redisCli(s.host, s.port, 'SENTINEL', 'SENTINELS', name);
          const replicas = await redisCli(s.host, s.port, 'SENTINEL', 'REPLICAS', name);
          if ((others.match(/^name$/gm) ?? []).length !== 2 || !replicas.includes(String(replicaPort))) return false;
        }
        return true;
      },
      { timeout: 20_000, interval: 100, what: 'the sentinels to discover each other and the replica' },
    );

    const currentMaster = async (): Promise<Address> => {
      const s = sentinels.find((p) => p.running) ?? sentinels[0];
      const [host, port] = (await redisCli(s.host, s.port, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)).trim().split('\n');
      return { host, port: Number(port) };
    };
    return {
      name,
      sentinels: sentinels.map(({ host, port }) => ({ host, port })),
      servers: servers.map(({ host, port }) => ({ host, port })),
      master: currentMaster,
      killMaster: async () => {
        const address = await currentMaster();
        const target = servers.find((p) => p.port === address.port);
        if (!target) throw new Error(`the sentinels name ${address.host}:${address.port} as master, which is not one of ours`);
        await target.stop();
        return address;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
