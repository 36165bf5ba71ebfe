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
  /** Releases what the case opened (connections, temp dirs). */
  close?(): Promise<void>;
}

export interface BenchContext {
  quick: boolean;
  rounds: number;
  /** Progress lines for long work. */
  log(line: string): void;
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
  target?: { ratio: number; label: string; met: boolean };
}

export interface Report {
  date: string;
  machine: { cpus: string; cores: number; memoryGiB: number; os: string; node: string };
  rounds: number;
  quick: boolean;
  results: CaseResult[];
  skipped: Array<{ scenario: string; reason: string }>;
}
