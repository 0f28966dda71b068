/** The shape every benchmark shares: cases, each run by several variants (ours first, then the anchors). */
import type { TestRedis } from '@live-session/test-support';
import type { RedisMeter } from './meter';

export interface Context {
  redis: TestRedis;
  /** --quick: every timed run lasts a moment, data sets are small. */
  quick: boolean;
  /** How long one timed run lasts, ms. */
  runMs: number;
  /** Redis's CPU and command counters (one connection of its own). */
  meter: RedisMeter;
  log(message: string): void;
}

export interface MetricDef {
  key: string;
  label: string;
  unit: string;
  /** Which direction is better, for reading the ratio. */
  better: 'higher' | 'lower';
}

/** A target from issue 5, checked on the medians. */
export interface Target {
  metric: string;
  /** Ratio ours / anchor; 'best' compares with the better anchor on this metric; 'value': our median itself. */
  against: string | 'best' | 'value';
  op: '>=' | '<=';
  /** The required ratio (or value, for against: 'value'). */
  ratio: number;
  text: string;
}

export interface Variant {
  name: string;
  /** One round: the metrics of this variant. */
  run(round: number): Promise<Record<string, number>>;
}

export interface Case {
  id: string;
  title: string;
  metrics: MetricDef[];
  variants: Variant[];
  targets?: Target[];
  /** Deterministic figures (memory, counts) need no warm-up round. */
  warmup?: boolean;
  /** Free-form details printed under the table and kept in the JSON. */
  notes?: () => Record<string, unknown>;
}

export interface Benchmark {
  name: string;
  /** Sets up (servers, data) and returns the cases; `close` tears everything down. */
  setup(ctx: Context): Promise<{ cases: Case[]; close(): Promise<void> }>;
}
