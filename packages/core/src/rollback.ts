/**
 * The way back to connect-redis: connect-redis cannot read this store's hashes (its GET fails with
 * WRONGTYPE), so a rollback converts every session under the prefix to connect-redis's layout, one
 * JSON string per key with the session's remaining TTL, as `SET prefix+sid json PX ttl` would.
 */
import { LiveSessionError } from './errors';
import { decodeSession } from './fields';
import { scanKeys } from './keyspace';
import { testHooks } from './legacy';
import { connectionOf, flatPairs, type RedisClient } from './redis';
import { SCRIPTS } from './scripts';

export interface ConvertToConnectRedisOptions {
  /** The store's prefix (and connect-redis's). @default "sess:" */
  prefix?: string;
  /** COUNT hint of the SCAN. @default 100 */
  scanCount?: number;
  /** Sessions read and converted per round trip. @default 100 */
  batchSize?: number;
}

export interface ConvertToConnectRedisResult {
  /** Sessions now stored as connect-redis strings. */
  converted: number;
  /** Sessions left as hashes: a field that is not JSON, or written on every one of 10 tries. */
  failed: { sid: string; error: LiveSessionError }[];
}

const ATTEMPTS = 10;

/**
 * Converts every session hash under `prefix` to connect-redis's JSON string, keeping its TTL. Each
 * conversion is atomic and happens only if the session was not written since it was read (then it
 * is read again). Safe to run again: strings are left alone. A live-session server still running
 * migrates a converted session back to a hash on its next use of it: run this once none is left.
 */
export async function convertToConnectRedis(client: RedisClient, options: ConvertToConnectRedisOptions = {}): Promise<ConvertToConnectRedisResult> {
  const { prefix = 'sess:', scanCount = 100, batchSize = 100 } = options;
  const result: ConvertToConnectRedisResult = { converted: 0, failed: [] };
  const redis = connectionOf(client);
  const keys = await scanKeys(redis, prefix, scanCount, ['hash']);
  for (let start = 0; start < keys.length; start += batchSize) {
    let batch = keys.slice(start, start + batchSize);
    for (let attempt = 0; batch.length > 0; attempt++) {
      const changed: string[] = [];
      const replies = await redis.batch(batch.flatMap((key) => [
        { key, args: ['HGETALL', key] },
        { key, args: ['PTTL', key] },
      ]));
      await Promise.all(
        batch.map(async (key, i) => {
          const sid = key.slice(prefix.length);
          const [err, hash] = replies[2 * i];
          if (err) throw err;
          const flat = flatPairs(hash);
          if (flat.length === 0) return; // expired or destroyed meanwhile
          let json: string;
          try {
            json = JSON.stringify(decodeSession(sid, flat, replies[2 * i + 1][1] as number).data);
          } catch (error) {
            if (!(error instanceof LiveSessionError)) throw error;
            result.failed.push({ sid, error });
            return;
          }
          await testHooks.beforeConvert?.(key);
          if ((await redis.script(SCRIPTS.rollback, key, [json, ...flat])) === 1) result.converted++;
          else if (attempt + 1 < ATTEMPTS) changed.push(key);
          else result.failed.push({ sid, error: new LiveSessionError('ERR_LIVE_SESSION_CONFLICT', `session "${sid}" was written on every one of ${ATTEMPTS} tries; it is still a hash`) });
        }),
      );
      batch = changed;
    }
  }
  return result;
}
