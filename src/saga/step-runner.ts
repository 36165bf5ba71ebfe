import { isPermanentError, TimeoutError, toError } from '../core/errors.ts';
import { abortable } from '../internal/abortable.ts';
import { backoffMs, type RetryPolicy, type StepContext } from './definition.ts';

/** How a run of an action or compensation ended. */
export type StepOutcome<T> =
  | { readonly ok: true; readonly value: T; readonly attempts: number }
  | { readonly ok: false; readonly error: Error; readonly attempts: number; readonly timedOut: boolean };

/** Thrown when the orchestrator's own signal stopped a run: nothing is recorded, recovery re-runs it. */
export class StepInterrupted extends Error {
  override name = 'StepInterrupted';
}

export interface RunOptions {
  policy: RetryPolicy | undefined;
  defaultAttempts: number;
  /** Limit for the whole run (all tries and waits), or per try when `perTry`. */
  timeoutMs: number;
  perTry: boolean;
  what: string;
  /** The orchestrator's signal: closing, or the lease was lost. */
  stop: AbortSignal;
}

/** A signal that aborts when `ms` pass (with a TimeoutError) or when `stop` aborts. */
class Deadline {
  readonly controller = new AbortController();
  timedOut = false;
  readonly #timer: NodeJS.Timeout;
  readonly #stop: AbortSignal;
  readonly #onStop = (): void => this.controller.abort(this.#stop.reason);

  constructor(ms: number, what: string, stop: AbortSignal) {
    this.#stop = stop;
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new TimeoutError(what, ms));
    }, ms);
    this.#timer.unref();
    if (stop.aborted) this.controller.abort(stop.reason);
    else stop.addEventListener('abort', this.#onStop, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#stop.removeEventListener('abort', this.#onStop);
  }
}

/**
 * Runs `fn` with retries and backoff under a time limit. Permanent errors end it at once; a
 * timeout ends it unless `perTry`, where it only ends that try. Stopping throws StepInterrupted.
 */
export async function runWithRetry<T>(
  fn: (ctx: StepContext) => Promise<T>,
  base: Omit<StepContext, 'attempt' | 'signal'>,
  options: RunOptions,
): Promise<StepOutcome<T>> {
  const attempts = options.policy?.attempts ?? options.defaultAttempts;
  const { stop } = options;
  const whole = options.perTry ? undefined : new Deadline(options.timeoutMs, options.what, stop);
  try {
    let last: Error = new Error('not run');
    for (let n = 1; n <= attempts; n++) {
      const deadline = whole ?? new Deadline(options.timeoutMs, options.what, stop);
      try {
        // Promise.resolve: an action written without `async` that returns a plain value (or
        // undefined, for a compensation) succeeded — it must not count as a failed try, be run
        // again and end uncompensated.
        const value = await abortable(Promise.resolve(fn({ ...base, attempt: n, signal: deadline.signal })), deadline.signal);
        return { ok: true, value, attempts: n };
      } catch (thrown) {
        if (stop.aborted) throw new StepInterrupted(`${options.what} interrupted`, { cause: thrown });
        if (deadline.timedOut) {
          last = deadline.signal.reason as Error;
          if (!options.perTry) return { ok: false, error: last, attempts: n, timedOut: true };
        } else last = toError(thrown);
        if (isPermanentError(last) || n === attempts) return { ok: false, error: last, attempts: n, timedOut: deadline.timedOut };
      } finally {
        if (!whole) deadline.dispose();
      }
      if (!(await wait(backoffMs(options.policy, n), whole?.signal ?? stop))) {
        if (stop.aborted) throw new StepInterrupted(`${options.what} interrupted`);
        return { ok: false, error: whole!.signal.reason as Error, attempts: n, timedOut: true };
      }
    }
    return { ok: false, error: last, attempts, timedOut: false };
  } finally {
    whole?.dispose();
  }
}

/** True after `ms`; false if `signal` aborted first. */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
