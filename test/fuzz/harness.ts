import { randomInt } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { rngFor } from './prng.ts';
import { targets as defaultTargets, type Target } from './targets.ts';
import type { WorkerInput, WorkerResult } from './worker.ts';

/** Fuzzing settings from the environment, with CI-friendly defaults. */
export interface FuzzSettings {
  /** `SWITCHYARD_FUZZ_SEED`, or a random one (printed, so a failure can be replayed). */
  seed: number;
  /** `SWITCHYARD_FUZZ_MS`: time per target. Default 3,000 ms (8 targets: under 30 s in CI). */
  budgetMs: number;
  /** `SWITCHYARD_FUZZ_DEADLINE_MS`: longest one input may take before it counts as a hang. Default 2,000 ms. */
  deadlineMs: number;
  /** `SWITCHYARD_FUZZ_ITERATION`: run only this input (with the seed of the failure). */
  only: number | undefined;
}

export function fuzzSettings(env: NodeJS.ProcessEnv = process.env): FuzzSettings {
  const num = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a whole number ≥ 0, got ${JSON.stringify(raw)}`);
    return n;
  };
  const only = env.SWITCHYARD_FUZZ_ITERATION;
  return {
    seed: num('SWITCHYARD_FUZZ_SEED', randomInt(2 ** 31)),
    budgetMs: num('SWITCHYARD_FUZZ_MS', 3_000),
    deadlineMs: num('SWITCHYARD_FUZZ_DEADLINE_MS', 2_000),
    only: only === undefined || only === '' ? undefined : num('SWITCHYARD_FUZZ_ITERATION', 0),
  };
}

/** How a target's run went. */
export type FuzzReport = WorkerResult & { target: string; seed: number };

/**
 * Runs `target` in a worker for the time budget. A watchdog polls the worker's progress and
 * terminates it when one input runs past `deadlineMs` (plus a second of slack for a loaded
 * machine): that input is reported as a hang, regenerated here from the seed and iteration.
 */
export async function runTarget(name: string, settings: FuzzSettings, source: { module: URL; targets: readonly Target<never>[] } = { module: new URL('./targets.ts', import.meta.url), targets: defaultTargets }): Promise<FuzzReport> {
  const progress = new SharedArrayBuffer(8);
  const view = new Int32Array(progress);
  const input: WorkerInput = { target: name, seed: settings.seed, budgetMs: settings.budgetMs, deadlineMs: settings.deadlineMs, progress, module: source.module.href, ...(settings.only !== undefined ? { only: settings.only } : {}) };
  const worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: input });
  return new Promise<FuzzReport>((resolve, reject) => {
    let seen = -1;
    let since = performance.now();
    const watchdog = setInterval(() => {
      const iteration = Atomics.load(view, 0);
      const busy = Atomics.load(view, 1) === 1;
      if (!busy || iteration !== seen) {
        seen = iteration;
        since = performance.now();
        return;
      }
      if (performance.now() - since > settings.deadlineMs + 1_000) {
        clearInterval(watchdog);
        void worker.terminate();
        const target = source.targets.find((t) => t.name === name)!;
        resolve({
          target: name,
          seed: settings.seed,
          ok: false,
          iterations: iteration + 1,
          iteration,
          problem: `hung: one input ran for more than ${settings.deadlineMs + 1_000} ms (the worker was stopped)`,
          input: target.describe(target.generate(rngFor(settings.seed, name, iteration)) as never),
        });
      }
    }, 100);
    // A worker that reported ends by itself: it is not terminated then, as terminate() racing the
    // worker's own exit has taken the whole test process down with SIGSEGV (once in CI, 2026-11-25).
    let reported: WorkerResult | undefined;
    worker.once('message', (result: WorkerResult) => {
      clearInterval(watchdog);
      reported = result;
    });
    worker.once('error', (error) => {
      clearInterval(watchdog);
      reject(new Error(`fuzz worker for "${name}" crashed: ${error.stack ?? error.message}`));
    });
    worker.once('exit', (code) => {
      clearInterval(watchdog);
      if (reported) resolve({ ...reported, target: name, seed: settings.seed });
      else reject(new Error(`fuzz worker for "${name}" exited with code ${code} before reporting`));
    });
  });
}

/** The failure text: what went wrong, the input, and the command that replays it. */
export function describeFailure(report: Extract<FuzzReport, { ok: false }>): string {
  return [
    `fuzz target "${report.target}" failed on input #${report.iteration} (seed ${report.seed}): ${report.problem}`,
    `input: ${report.input.length > 2_000 ? `${report.input.slice(0, 2_000)}…` : report.input}`,
    `replay: SWITCHYARD_FUZZ_SEED=${report.seed} SWITCHYARD_FUZZ_ITERATION=${report.iteration} npx vitest run test/fuzz -t ${JSON.stringify(report.target)}`,
  ].join('\n');
}
