/**
 * DeadlineQueue: items by deadline, soonest first (a binary min-heap). It lets one timer serve
 * any number of deadlines: a Timeout per session cost about 280 bytes of heap (the Timeout, its
 * closure, its numbers) where an entry here costs two array slots.
 */
export class DeadlineQueue<T> {
  /** Deadlines (ms since the epoch) and their items, in heap order, side by side. */
  private readonly ats: number[] = [];
  private readonly items: T[] = [];

  get size(): number {
    return this.ats.length;
  }

  /** The soonest deadline, Infinity when empty. */
  peek(): number {
    return this.ats.length > 0 ? this.ats[0] : Infinity;
  }

  push(at: number, item: T): void {
    const { ats, items } = this;
    let i = ats.length;
    ats.push(at);
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (ats[parent] <= at) break;
      this.move(parent, i);
      i = parent;
    }
    ats[i] = at;
    items[i] = item;
  }

  /** Removes the soonest entry and gives its item (the caller checked `size`). */
  pop(): T {
    const { ats, items } = this;
    const top = items[0];
    const at = ats.pop()!;
    const item = items.pop()!;
    const n = ats.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && ats[child + 1] < ats[child]) child++;
      if (ats[child] >= at) break;
      this.move(child, i);
      i = child;
    }
    ats[i] = at;
    items[i] = item;
    return top;
  }

  /** Keeps only the entries `keep` approves (to drop entries that no longer count). */
  filter(keep: (at: number, item: T) => boolean): void {
    const entries = this.ats.map((at, i) => [at, this.items[i]] as const).filter(([at, item]) => keep(at, item));
    this.clear();
    for (const [at, item] of entries) this.push(at, item);
  }

  clear(): void {
    this.ats.length = 0;
    this.items.length = 0;
  }

  private move(from: number, to: number): void {
    this.ats[to] = this.ats[from];
    this.items[to] = this.items[from];
  }
}
