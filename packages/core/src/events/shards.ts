/**
 * Names of the events' keys and channels, built once: `eventShards` shards, each one hash tag
 * `{<eventsPrefix><n>}` (one Cluster slot), holding `due`, `info`, `stream` and the `wake` channel.
 * A session belongs to the shard its id hashes to: spreading the fleet's events over several slots
 * (so several masters of a Cluster) keeps one key from carrying all of them.
 */
export class EventShards {
  readonly count: number;
  private readonly tags: string[];
  private readonly wakes: Map<string, number>;

  constructor(eventsPrefix: string, count: number) {
    this.count = count;
    this.tags = Array.from({ length: count }, (_, n) => `{${eventsPrefix}${n}}`);
    this.wakes = new Map(this.tags.map((tag, n) => [`${tag}wake`, n]));
  }

  /** The shard of a session: FNV-1a of its id (any stable spread will do; every store and watcher must agree). */
  of(sid: string): number {
    if (this.count === 1) return 0;
    let hash = 0x811c9dc5;
    for (let i = 0; i < sid.length; i++) {
      hash ^= sid.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    return (hash >>> 0) % this.count;
  }

  /** The due key: the one every events script is run on (the others are derived from it in Lua). */
  due(shard: number): string {
    return `${this.tags[shard]}due`;
  }

  stream(shard: number): string {
    return `${this.tags[shard]}stream`;
  }

  info(shard: number): string {
    return `${this.tags[shard]}info`;
  }

  wake(shard: number): string {
    return `${this.tags[shard]}wake`;
  }

  /** The shard a wake channel belongs to, or -1. */
  ofWake(channel: string): number {
    return this.wakes.get(channel) ?? -1;
  }

  /** The lock of the fleet's sweep (in shard 0's slot). */
  sweepLock(): string {
    return `${this.tags[0]}sweep`;
  }

  /** Indexes of every shard. */
  all(): number[] {
    return this.tags.map((_, n) => n);
  }

  /** Groups session ids by shard. */
  group(sids: readonly string[]): Map<number, string[]> {
    const groups = new Map<number, string[]>();
    for (const sid of sids) {
      const shard = this.of(sid);
      const list = groups.get(shard);
      if (list) list.push(sid);
      else groups.set(shard, [sid]);
    }
    return groups;
  }
}
