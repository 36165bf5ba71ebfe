/** One timed run of a workload. */
export interface Sample {
  /** Operations done (messages, records, bytes…, in the case's unit). */
  ops: number;
  seconds: number;
  /** Per-operation latencies where the workload measures them, in ms. */
  latenciesMs?: number[];
}

/** One side of a comparison: a workload that can run several rounds. */
export interface Variant {
  name: string;
  run(): Promise<Sample>;
}

/** A measured figure: ours, optionally against a baseline measured in the same run, interleaved. */
export interface BenchCase {
  name: string;
  /** Unit of `ops / seconds`: msgs/s, records/s, MB/s. */
  unit: string;
  ours: Variant;
  baseline?: Variant;
  /** The ratio ours/baseline we aim for, and how to say it. */
  target?: { ratio: number; label: string };
  /**
   * What the ratio compares: `throughput` (default, ours ÷ baseline) or `p99` latency
   * (baseline ÷ ours, so above 1 still means ours does better).
   */
  ratioOf?: 'throughput' | 'p99';
  /** For costs (MiB, ms) rather than rates: ours' median must stay at or under `max`. */
  ceiling?: { max: number; label: string };
  /** An absolute rate ours' median must reach (e.g. ≥ 2,000 orders/s), where no baseline gives a ratio. */
  minimum?: { min: number; label: string };
  /** Shown in the target column when there is no target (e.g. "informative, no target"). */
  note?: string;
  /** Rounds of this case, when it is too long for the run's count (e.g. 1). */
  rounds?: number;
  /** Run one uncounted warm-up of each side first. Default true. */
  warmup?: boolean;
  /** Releases what the case opened (connections, temp dirs). */
  close?(): Promise<void>;
}

export interface BenchContext {
  quick: boolean;
  rounds: number;
  /** Progress lines for long work. */
  log(line: string): void;
  /** Records that part of the scenario cannot run here (a broker is missing); the report says why. */
  skip(reason: string): void;
}

export interface Scenario {
  name: string;
  title: string;
  /** Builds the cases; throws a SkipScenario when a service it needs is missing. */
  cases(ctx: BenchContext): Promise<BenchCase[]>;
}

/** Thrown by a scenario that cannot run here (a broker is not running); the report says why. */
export class SkipScenario extends Error {
  override name = 'SkipScenario';
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface CaseResult {
  scenario: string;
  name: string;
  unit: string;
  ours: Spread & { variant: string; p50Ms?: number; p99Ms?: number };
  baseline?: Spread & { variant: string; p50Ms?: number; p99Ms?: number };
  ratio?: number;
  /** Set when the ratio compares p99 latency instead of throughput. */
  ratioOf?: 'p99';
  /** A ratio target (`ratio`), a ceiling (`max`) or a minimum (`min`) on ours, and whether it was met. */
  target?: { label: string; met: boolean; ratio?: number; max?: number; min?: number };
  note?: string;
}

export interface Report {
  date: string;
  machine: { cpus: string; cores: number; memoryGiB: number; os: string; node: string };
  rounds: number;
  quick: boolean;
  results: CaseResult[];
  skipped: Array<{ scenario: string; reason: string }>;
}
