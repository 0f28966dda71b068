/**
 * Operations over every session under a prefix (all, ids, length, clear), on a standalone Redis or
 * on every master of a Cluster, without a command or pipeline that spans two slots.
 */
import type { RedisConnection } from './redis';

/**
 * Every key under `prefix` of one of `types` (SCAN with MATCH and TYPE, never KEYS), from every
 * master. One SCAN per type, in the order given: a key that changes type in between (a string
 * migrated to a hash: list 'string' before 'hash') is seen by one of them.
 */
export async function scanKeys(redis: RedisConnection, prefix: string, count: number, types: readonly string[] = ['hash']): Promise<string[]> {
  const match = `${escapeGlob(prefix)}*`;
  const keys = new Set<string>();
  const nodes = await redis.masters();
  for (const type of types) {
    await Promise.all(
      nodes.map(async (node) => {
        let cursor = '0';
        do {
          const [next, batch] = (await node.send(['SCAN', cursor, 'MATCH', match, 'COUNT', count, 'TYPE', type])) as [string, string[]];
          for (const key of batch) keys.add(String(key));
          cursor = String(next);
        } while (cursor !== '0');
      }),
    );
  }
  return [...keys];
}

/** A prefix is matched literally: its glob characters are escaped. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
