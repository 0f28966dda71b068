import type { Benchmark } from './types';
export const fanout: Benchmark = {
  name: 'fanout',
  async setup() {
    throw Object.assign(new Error('not yet'), { code: 'BENCH_SKIP' });
  },
};
