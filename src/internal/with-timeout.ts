import { ClosedError, TimeoutError } from '../core/errors.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';

/**
 * Settles like `promise`, or rejects with TimeoutError naming `what` once `ms` have passed.
 * The timer never keeps the process alive.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    timer.unref();
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * Waits for `promise` to settle, its outcome ignored, at most `ms`: for closing and rebalancing,
 * which must go on when a broker stopped answering. The timer never keeps the process alive.
 *
 * @example
 * ```ts
 * await waitAtMost(stream.close(), 5_000);
 * ```
 */
export async function waitAtMost(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  await Promise.race([promise?.catch(() => undefined), late]);
  clearTimeout(timer);
}

/**
 * Waits for in-flight handlers to settle (`idle`), at most `ms`; then aborts their signal through
 * `abort` and stops waiting. Resolves true when they settled in time, false when they were given
 * up on. Unlike waitAtMost's, the timer keeps the process alive: a program awaiting `close()`
 * with nothing else left to do goes on once it resolves, rather than exiting in the middle of it.
 */
export async function drainWithin(idle: Promise<unknown>, ms: number, abort: AbortController): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    // Node fires a longer timer after 1 ms instead.
    timer = setTimeout(() => {
      abort.abort(new ClosedError('subscription'));
      resolve(false);
    }, Math.min(ms, MAX_TIMER_MS));
  });
  try {
    return await Promise.race([idle.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
