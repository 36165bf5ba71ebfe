// Runs one fuzz target inside a worker thread, so the main thread can stop it if a decoder hangs
// (a synchronous infinite loop cannot be interrupted from inside). Progress goes through shared
// memory: [iteration being run, 1 while a call is in progress].
import { parentPort, workerData } from 'node:worker_threads';
import { rngFor } from './prng.ts';
import { Finding, type Target } from './targets.ts';

export interface WorkerInput {
  target: string;
  seed: number;
  budgetMs: number;
  deadlineMs: number;
  /** Only this iteration (to reproduce a report). */
  only?: number;
  progress: SharedArrayBuffer;
  /** The module whose `targets` export holds the target (the harness's own test uses another). */
  module: string;
}

export type WorkerResult =
  | { ok: true; iterations: number }
  | { ok: false; iterations: number; iteration: number; problem: string; input: string };

const data = workerData as WorkerInput;
const { targets } = (await import(data.module)) as { targets: readonly Target<never>[] };
const target = targets.find((t) => t.name === data.target);
if (!target) throw new Error(`no fuzz target named "${data.target}"`);
const progress = new Int32Array(data.progress);
const started = performance.now();
let result: WorkerResult | undefined;
let i = data.only ?? 0;
for (; data.only !== undefined ? i === data.only : performance.now() - started < data.budgetMs; i++) {
  const input = target.generate(rngFor(data.seed, target.name, i));
  Atomics.store(progress, 0, i);
  Atomics.store(progress, 1, 1);
  const t0 = performance.now();
  try {
    await target.check(input);
  } catch (error) {
    const problem = error instanceof Finding ? error.message : `the check itself failed: ${(error as Error).stack ?? String(error)}`;
    result = { ok: false, iterations: i + 1, iteration: i, problem, input: target.describe(input) };
    break;
  } finally {
    Atomics.store(progress, 1, 0);
  }
  const took = performance.now() - t0;
  if (took > data.deadlineMs) {
    result = { ok: false, iterations: i + 1, iteration: i, problem: `took ${Math.round(took)} ms, more than the ${data.deadlineMs} ms allowed per input`, input: target.describe(input) };
    break;
  }
}
target.dispose?.();
parentPort!.postMessage(result ?? { ok: true, iterations: i - (data.only ?? 0) });
