/**
 * Operations over every session under a prefix (all, ids, length, clear), on a standalone Redis or
 * on every master of a Cluster, without a command or pipeline that spans two slots.
 */
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { once } from 'node:events';
import type { RedisClient } from './scripts';

/**
 * Every key under `prefix` of one of `types` (SCAN with MATCH and TYPE, never KEYS), from every
 * master. One SCAN per type, in the order given: a key that changes type in between (a string
 * migrated to a hash: list 'string' before 'hash') is seen by one of them.
 */
export async function scanKeys(client: RedisClient, prefix: string, count: number, types: readonly string[] = ['hash']): Promise<string[]> {
  const match = `${escapeGlob(prefix)}*`;
  const nodes = client.isCluster ? await mastersOf(client as Cluster) : [client as Redis];
  const keys = new Set<string>();
  for (const type of types) {
    await Promise.all(
      nodes.map(
        (node) =>
          new Promise<void>((resolve, reject) => {
            node
              .scanStream({ match, count, type })
              .on('data', (batch: string[]) => batch.forEach((key) => keys.add(key)))
              .on('error', reject)
              .on('end', resolve);
          }),
      ),
    );
  }
  return [...keys];
}

/**
 * Sends `queue`'s commands for every key and returns the replies in order, as `pipeline.exec()`
 * does: one pipeline on a standalone Redis; on a Cluster, whose pipelines cannot span slots, one
 * pipeline per key (each naming only that key), all sent at once.
 */
export async function pipelinePerKey(
  client: RedisClient,
  keys: string[],
  queue: (pipeline: ChainableCommander, key: string) => unknown,
): Promise<[Error | null, unknown][]> {
  const batches = client.isCluster ? keys.map((key) => [key]) : [keys];
  const replies = await Promise.all(
    batches.map((batch) => {
      const pipeline = client.pipeline();
      for (const key of batch) queue(pipeline, key);
      return pipeline.exec();
    }),
  );
  return replies.flatMap((reply) => reply ?? []);
}

/** The masters of a Cluster; before it is ready (slots unknown) ioredis lists none, so wait for that. */
async function mastersOf(cluster: Cluster): Promise<Redis[]> {
  if (cluster.status !== 'ready') await once(cluster, 'ready');
  return cluster.nodes('master');
}

/** A prefix is matched literally: its glob characters are escaped. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
