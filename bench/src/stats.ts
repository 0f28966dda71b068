/** Small statistics helpers: latency samples, percentiles, medians. */

export class Latencies {
  private samples = new Float64Array(1 << 16);
  private n = 0;

  push(ms: number): void {
    if (this.n === this.samples.length) {
      const bigger = new Float64Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  /** p in [0, 100]; nearest-rank on the sorted samples. */
  percentiles(...ps: number[]): number[] {
    const sorted = this.samples.slice(0, this.n).sort();
    return ps.map((p) => (this.n === 0 ? NaN : sorted[Math.min(this.n - 1, Math.max(0, Math.ceil((p / 100) * this.n) - 1))]));
  }
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs `concurrency` loops of `op` until `ms` have passed; cycles/s and latency percentiles. */
export async function timedLoops(concurrency: number, ms: number, op: (i: number) => Promise<void>): Promise<{ perSecond: number; p50: number; p99: number; count: number }> {
  const latencies = new Latencies();
  let next = 0;
  const start = performance.now();
  const deadline = start + ms;
  const loop = async () => {
    while (performance.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      await op(i);
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = performance.now() - start;
  const [p50, p99] = latencies.percentiles(50, 99);
  return { perSecond: (latencies.count / elapsed) * 1000, p50, p99, count: latencies.count };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
