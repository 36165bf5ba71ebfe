import { isPermanentError } from '../core/errors.ts';
import { delay } from '../router/shutdown.ts';
import type { Middleware, RouterContext } from '../router/types.ts';

/** Retry policy. Every field has a default. */
export interface RetryOptions {
  /** Attempts in this process per delivery, the first included. Default 3. */
  attempts?: number;
  /** Wait before the second attempt, in ms. Default 100. */
  initialDelayMs?: number;
  /** Each wait is the previous one times this. Default 2. */
  multiplier?: number;
  /** Longest single wait, in ms. Default 10,000. */
  maxDelayMs?: number;
  /** Random spread of each wait, 0 to 1 (0.2 = ±20 %). Default 0.2. */
  jitter?: number;
  /** No further attempt starts once this much time passed since the first, in ms. Default: no limit. */
  maxElapsedMs?: number;
  /** Which errors are worth retrying. Default: everything except permanent errors. */
  retryable?: (error: unknown) => boolean;
}

/**
 * Retries a failing handler in-process with exponential backoff, for transient errors only.
 * When the attempts (or `maxElapsedMs`) are used up the error goes on: to `deadLetter()` when it
 * is installed, otherwise to the transport, which delivers the message again later.
 * Permanent errors (DecodeError, ValidationError, PermanentError) are not retried.
 *
 * Queued `ctx.publish()` messages of a failed attempt are discarded before the next one.
 *
 * @example
 * ```ts
 * router.use(retry({ attempts: 5, initialDelayMs: 200, maxDelayMs: 5_000 }), deadLetter());
 * ```
 */
export function retry(options: RetryOptions = {}): Middleware {
  const attempts = options.attempts ?? 3;
  const initial = options.initialDelayMs ?? 100;
  const multiplier = options.multiplier ?? 2;
  const maxDelay = options.maxDelayMs ?? 10_000;
  const jitter = Math.min(Math.max(options.jitter ?? 0.2, 0), 1);
  const maxElapsed = options.maxElapsedMs ?? Number.POSITIVE_INFINITY;
  const retryable = options.retryable ?? ((error: unknown) => !isPermanentError(error));

  /** Wait before attempt `n + 1` (n ≥ 1). */
  const backoff = (n: number): number => {
    const base = Math.min(maxDelay, initial * multiplier ** (n - 1));
    return Math.max(0, Math.round(base * (1 + jitter * (Math.random() * 2 - 1))));
  };

  // Without maxElapsedMs neither the clock nor the next wait matters until an attempt failed.
  const limited = Number.isFinite(maxElapsed);

  /**
   * Runs attempt `n` (1-based). Not async: a success passes through as next()'s own promise plus
   * one rejection handler, the failure path alone pays for an async function.
   */
  const attempt = (ctx: RouterContext, next: () => Promise<void>, n: number, started: number, first: number): Promise<void> => {
    const wait = limited ? backoff(n) : -1;
    ctx.final = n >= attempts || (limited && Date.now() - started + wait > maxElapsed);
    return next().then(undefined, (error: unknown) => afterFailure(error, ctx, next, n, started, first, wait));
  };

  const afterFailure = async (error: unknown, ctx: RouterContext, next: () => Promise<void>, n: number, started: number, first: number, wait: number): Promise<void> => {
    if (ctx.final || !retryable(error) || ctx.stopSignal.aborted) throw error;
    ctx.discardPending();
    ctx.count('retried');
    const waited = await delay(wait < 0 ? backoff(n) : wait, ctx.stopSignal);
    if (!waited) throw error; // stopping: leave the message to the transport
    ctx.attempt = first + n;
    return attempt(ctx, next, n + 1, started, first);
  };

  return function retry(_msg, ctx, next) {
    return attempt(ctx, next, 1, limited ? Date.now() : 0, ctx.attempt);
  };
}
