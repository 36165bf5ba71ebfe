import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { quantile, rate, spread } from './stats.ts';
import { SkipScenario, type BenchCase, type BenchContext, type CaseResult, type Report, type Sample, type Scenario } from './types.ts';

/** Runs the scenarios, each case's two sides interleaved round by round so drift hits both alike. */
export async function runBench(scenarios: readonly Scenario[], options: { quick: boolean; rounds?: number; log?: (line: string) => void }): Promise<Report> {
  const rounds = options.rounds ?? (options.quick ? 3 : 5);
  const log = options.log ?? ((line: string) => console.error(line));
  const report: Report = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      os: `${os.type()} ${os.release()}`,
      node: process.version,
    },
    rounds,
    quick: options.quick,
    results: [],
    skipped: [],
  };
  for (const scenario of scenarios) {
    log(`▶ ${scenario.title}`);
    const ctx: BenchContext = {
      quick: options.quick,
      rounds,
      log,
      skip(reason) {
        log(`  skipped: ${reason}`);
        report.skipped.push({ scenario: scenario.name, reason });
      },
    };
    let cases: BenchCase[];
    try {
      cases = await scenario.cases(ctx);
    } catch (error) {
      if (!(error instanceof SkipScenario)) throw error;
      log(`  skipped: ${error.message}`);
      report.skipped.push({ scenario: scenario.name, reason: error.message });
      continue;
    }
    for (const [i, c] of cases.entries()) {
      try {
        report.results.push(await runCase(scenario.name, c, rounds, log));
      } catch (error) {
        // The run stops here, but the cases not run yet may hold what the scenario set up for
        // them (a database schema, a topic, a pool): release that too.
        for (const rest of cases.slice(i + 1)) await rest.close?.().catch(() => undefined);
        throw error;
      } finally {
        await c.close?.();
      }
    }
  }
  return report;
}

/**
 * A full garbage collection, run before every round: otherwise a round pays for the garbage of the
 * rounds before it, at random, and the spread between rounds hides differences of a few per cent.
 */
function collectGarbage(): void {
  gc ??= (globalThis as { gc?: () => void }).gc ?? exposeGc();
  gc();
}

let gc: (() => void) | undefined;

/** V8's `gc()` without `--expose-gc` on the command line: the flag, then a context that has it. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function runCase(scenario: string, c: BenchCase, defaultRounds: number, log: (line: string) => void): Promise<CaseResult> {
  const ours: Sample[] = [];
  const baseline: Sample[] = [];
  const rounds = c.rounds ?? defaultRounds;
  // One uncounted warm-up of each side: JIT compilation and connection setup are not the figure.
  if (c.warmup !== false) {
    await c.ours.run();
    await c.baseline?.run();
  }
  for (let round = 0; round < rounds; round++) {
    // Alternate which side goes first, so neither always gets the warmer cache.
    const order = round % 2 === 0 ? (['ours', 'baseline'] as const) : (['baseline', 'ours'] as const);
    for (const side of order) {
      collectGarbage();
      if (side === 'ours') ours.push(await c.ours.run());
      else if (c.baseline) baseline.push(await c.baseline.run());
    }
    const last = (samples: Sample[]): string => {
      const s = samples[samples.length - 1]!;
      return `${format(rate(s))}${s.latenciesMs?.length ? ` (p99 ${quantile(s.latenciesMs, 0.99).toFixed(2)} ms)` : ''}`;
    };
    log(`  ${c.name}: round ${round + 1}/${rounds} ${last(ours)} ${c.unit}` + (c.baseline ? ` vs ${last(baseline)}` : ''));
  }
  const result: CaseResult = { scenario, name: c.name, unit: c.unit, ours: summarize(ours, c.ours.name) };
  if (c.baseline) {
    result.baseline = summarize(baseline, c.baseline.name);
    if (c.ratioOf === 'p99') {
      result.ratioOf = 'p99';
      if (result.ours.p99Ms !== undefined && result.baseline.p99Ms !== undefined) result.ratio = result.baseline.p99Ms / result.ours.p99Ms;
    } else result.ratio = result.ours.median / result.baseline.median;
    if (c.target && result.ratio !== undefined) result.target = { ...c.target, met: result.ratio >= c.target.ratio };
  }
  if (c.ceiling) result.target = { label: c.ceiling.label, max: c.ceiling.max, met: result.ours.median <= c.ceiling.max };
  if (c.minimum) result.target = { label: c.minimum.label, min: c.minimum.min, met: result.ours.median >= c.minimum.min };
  if (c.note) result.note = c.note;
  return result;
}

function summarize(samples: Sample[], variant: string): CaseResult['ours'] {
  const latencies = samples.flatMap((s) => s.latenciesMs ?? []);
  return {
    variant,
    ...spread(samples.map(rate)),
    ...(latencies.length > 0 ? { p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99) } : {}),
  };
}

/** 1234567 → "1.23 M", 12345 → "12.3 k". */
export function format(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)} k`;
  if (n >= 100) return n.toFixed(0);
  return n.toFixed(2);
}
