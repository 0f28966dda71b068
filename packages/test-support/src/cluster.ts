/**
 * A local Redis Cluster for a test file: `redis-server --cluster-enabled yes` processes on free
 * ports, joined by `redis-cli --cluster create`, removed by `close()`. Needs redis-server and
 * redis-cli (Redis 7 for sharded pub/sub) on PATH.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';
import { redisCli, type RedisProcess, redisProcess } from './redis-process';
import { waitFor } from './wait';

const run = promisify(execFile);

export interface StartClusterOptions {
  /** @default 3 */
  masters?: number;
  /** Replicas of each master (1 for failover tests). @default 0 */
  replicasPerMaster?: number;
  /**
   * `cluster-node-timeout` in ms: how long a node may be unreachable before it is failed over.
   * @default 1000
   */
  nodeTimeout?: number;
}

export interface ClusterNode {
  host: string;
  port: number;
}

export interface TestCluster {
  /** Every node, in the order given to `redis-cli --cluster create` (the masters first). */
  nodes: ClusterNode[];
  /** `host:port,host:port,...` of every node, for a child process's environment. */
  nodeList: string;
  /**
   * The masters that hold slots and that no node suspects, as one live node sees it right now. A node
   * killed a moment ago is still listed until the others flag it (`cluster-node-timeout`).
   */
  masters(): Promise<ClusterNode[]>;
  /** Kills a node with SIGKILL, as a crash would. */
  kill(node: ClusterNode): Promise<void>;
  /**
   * Resolves once every live node reports cluster_state:ok and sees `masters` unsuspected masters
   * holding slots. Right after a kill that can still be true: wait for `masters()` to change first.
   */
  healthy(options?: { timeout?: number }): Promise<void>;
  /** Stops every node and removes their files. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startCluster({ masters = 3, replicasPerMaster = 0, nodeTimeout = 1000 }: StartClusterOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'live-session-cluster-'));
  const processes: RedisProcess[] = [];
  const close = async () => {
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      const port = await freePort();
      const busPort = await freePort(); // explicit, so port + 10000 need not be free
      processes.push(
        redisProcess({
          host: HOST,
          port,
          args: [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', join(dir, `nodes-${port}.conf`),
            '--cluster-port', String(busPort),
            '--cluster-node-timeout', String(nodeTimeout),
            '--save', '',
            '--appendonly', 'no',
            '--repl-diskless-sync-delay', '0', // no 5 s wait before a replica's first sync
            '--dir', dir,
          ],
        }),
      );
    }
    await Promise.all(processes.map((p) => p.start()));
    const addresses = processes.map((p) => `${p.host}:${p.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], { timeout: 30_000 });

    const live = () => processes.filter((p) => p.running);
    const mastersNow = async (): Promise<ClusterNode[]> => {
      const [any] = live();
      return parseNodes(await redisCli(any.host, any.port, 'CLUSTER', 'NODES'))
        .filter(servesSlots)
        .map(({ host, port }) => ({ host, port }));
    };
    const healthy = async ({ timeout = 20_000 } = {}) => {
      await waitFor(
        async () => {
          for (const node of live()) {
            if (!/cluster_state:ok/.test(await redisCli(node.host, node.port, 'CLUSTER', 'INFO'))) return false;
            const view = parseNodes(await redisCli(node.host, node.port, 'CLUSTER', 'NODES'));
            // Every node knows every other one (no handshake left) and sees the replicas attached.
            if (view.length !== processes.length || view.some((n) => n.flags.includes('handshake') || n.flags.includes('noaddr'))) return false;
            if (view.filter(servesSlots).length !== masters) return false;
          }
          return true;
        },
        { timeout, interval: 100, what: 'every cluster node to report cluster_state:ok' },
      );
    };
    await healthy();
    if (replicasPerMaster > 0) {
      // A replica can only take over once it has synced with its master.
      await waitFor(
        async () => {
          for (const node of live()) {
            const info = await redisCli(node.host, node.port, 'INFO', 'replication');
            if (/role:slave/.test(info) && !/master_link_status:up/.test(info)) return false;
          }
          return true;
        },
        { timeout: 20_000, interval: 100, what: 'every replica to sync with its master' },
      );
    }
    return {
      nodes: processes.map(({ host, port }) => ({ host, port })),
      nodeList: addresses.join(','),
      masters: mastersNow,
      kill: async (node) => {
        const target = processes.find((p) => p.host === node.host && p.port === node.port);
        if (!target) throw new Error(`no cluster node at ${node.host}:${node.port}`);
        await target.stop();
      },
      healthy,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

interface NodeLine extends ClusterNode {
  flags: string[];
  /** True when the node serves at least one slot. */
  slots: boolean;
}

/** A master that holds slots and that no node suspects of failure (flags `fail?` or `fail`). */
function servesSlots(node: NodeLine): boolean {
  return node.flags.includes('master') && !node.flags.some((flag) => flag.startsWith('fail')) && node.slots;
}

/** Parses `CLUSTER NODES`: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`. */
function parseNodes(text: string): NodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const fields = line.trim().split(' ');
      const [address] = fields[1].split('@');
      const colon = address.lastIndexOf(':');
      return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)), flags: fields[2].split(','), slots: fields.length > 8 };
    });
}
