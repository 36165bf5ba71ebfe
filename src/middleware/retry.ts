import { ClosedError, ConfigError, isClosedError, isPermanentError } from '../core/errors.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';
import { withRole } from '../router/middleware-order.ts';
import { delay } from '../router/shutdown.ts';
import type { Middleware, RouterContext } from '../router/types.ts';
import { positiveMsProblems, rangeProblems, wholeProblems } from './option-problems.ts';

/** Retry policy. Every field has a default. */
export interface RetryOptions {
  /** Attempts in this process per delivery, the first included. Default 3. */
  attempts?: number;
  /** Wait before the second attempt, in ms. Default 100. */
  initialDelayMs?: number;
  /** Each wait is the previous one times this. Default 2. */
  multiplier?: number;
  /** Longest single wait, in ms, jitter included. Default 10,000. */
  maxDelayMs?: number;
  /** Random spread of each wait, 0 to 1 (0.2 = ±20 %). Default 0.2. */
  jitter?: number;
  /**
   * Time budget from the start of the first attempt, in ms: after a failure, no wait starts that
   * would end past it (the failed attempt's own duration counts). Default: no limit.
   */
  maxElapsedMs?: number;
  /**
   * Which errors are worth retrying (transient). Default: everything except permanent errors. A
   * declined error is not retried here: it goes to the transport's redelivery, and to
   * `deadLetter()` once `ctx.attempt` reaches its `maxAttempts`. A ClosedError is never retried.
   */
  retryable?: (error: unknown) => boolean;
}

/**
 * Retries a failing handler in-process with exponential backoff, for transient errors only.
 * When the attempts (or `maxElapsedMs`) are used up the error goes on: to `deadLetter()` when it
 * is installed, otherwise to the transport, which delivers the message again later.
 * Permanent errors (DecodeError, ValidationError, PermanentError) are not retried, nor errors
 * `retryable` declines, nor a ClosedError (the attempt or the router stopped): they go on at
 * once. An error `retryable` declines is not permanent: the transport delivers the message again,
 * and `deadLetter()` takes it once `ctx.attempt` reaches its `maxAttempts` — so it cannot loop
 * forever. Throw a PermanentError to dead-letter at the first attempt.
 *
 * Each wait is `initialDelayMs × multiplier^(n-1)`, spread by ±`jitter`, at most `maxDelayMs`.
 * `maxElapsedMs` counts from the start of the first attempt: after a failure, no wait starts that
 * would end past it.
 *
 * Queued `ctx.publish()` messages of a failed attempt are discarded before the next one. A wait
 * ends when the router stops taking messages: the message fails with a ClosedError (neither
 * retried nor dead-lettered, not acknowledged) and the transport delivers it again.
 *
 * @example
 * ```ts
 * router.use(retry({ attempts: 5, initialDelayMs: 200, maxDelayMs: 5_000 }), deadLetter());
 * ```
 */
export function retry(options: RetryOptions = {}): Middleware {
  const where = 'retry()';
  ConfigError.throwIfAny([
    ...wholeProblems(where, 'attempts', options.attempts, 1, true),
    ...rangeProblems(where, 'initialDelayMs', options.initialDelayMs, 0, MAX_TIMER_MS, ' of ms'),
    ...rangeProblems(where, 'multiplier', options.multiplier, 1),
    ...rangeProblems(where, 'maxDelayMs', options.maxDelayMs, 0, MAX_TIMER_MS, ' of ms'),
    ...rangeProblems(where, 'jitter', options.jitter, 0, 1),
    ...(options.maxElapsedMs === Number.POSITIVE_INFINITY ? [] : positiveMsProblems(where, 'maxElapsedMs', options.maxElapsedMs)),
    ...(options.retryable !== undefined && typeof options.retryable !== 'function' ? [`${where}: retryable must be a function (error) => boolean`] : []),
  ]);
  const attempts = options.attempts ?? 3;
  const initial = options.initialDelayMs ?? 100;
  const multiplier = options.multiplier ?? 2;
  const maxDelay = options.maxDelayMs ?? 10_000;
  const jitter = options.jitter ?? 0.2;
  const maxElapsed = options.maxElapsedMs ?? Number.POSITIVE_INFINITY;
  const retryable = options.retryable ?? ((error: unknown) => !isPermanentError(error));

  /** Wait before attempt `n + 1` (n ≥ 1): clamped after the jitter, so no wait exceeds maxDelayMs. */
  const backoff = (n: number): number => {
    const base = Math.min(maxDelay, initial * multiplier ** (n - 1));
    return Math.max(0, Math.min(maxDelay, Math.round(base * (1 + jitter * (Math.random() * 2 - 1)))));
  };

  // Without maxElapsedMs neither the clock nor the next wait matters until an attempt failed.
  const limited = Number.isFinite(maxElapsed);

  /**
   * Runs attempt `n` (1-based). Not async: a success passes through as next()'s own promise plus
   * one rejection handler, the failure path alone pays for an async function.
   */
  const attempt = (ctx: RouterContext, next: () => Promise<void>, n: number, started: number, first: number): Promise<void> => {
    ctx.final = n >= attempts;
    ctx.retryable = retryable;
    let wait = -1;
    if (limited) {
      wait = backoff(n);
      // A failure after this time is not retried: the wait would end past maxElapsedMs.
      ctx.retryDeadline = started + maxElapsed - wait;
      if (Date.now() > ctx.retryDeadline) ctx.final = true;
    }
    return next().then(undefined, (error: unknown) => afterFailure(error, ctx, next, n, started, first, wait));
  };

  const afterFailure = async (error: unknown, ctx: RouterContext, next: () => Promise<void>, n: number, started: number, first: number, wait: number): Promise<void> => {
    if (ctx.ended || ctx.stopSignal.aborted) throw error; // cut short or stopping: leave it to the transport
    if (!retriedInProcess(ctx, error)) {
      // Tell middleware outside (deadLetter()) that no attempt follows: this one was the last.
      ctx.final = true;
      throw error;
    }
    ctx.discardPending();
    // The wait ends when the router stops taking messages, not only when its drain time is up:
    // stop() would otherwise wait out every backoff (up to maxDelayMs each) and the attempts after
    // them, for a message the transport delivers again anyway.
    const stopping = ctx.intake.stopped;
    const waited = await delay(wait < 0 ? backoff(n) : wait, AbortSignal.any([ctx.stopSignal, stopping]));
    if (!waited) {
      if (ctx.stopSignal.aborted) throw error; // drain time up: leave the message to the transport
      // Not a failure of the message (a ClosedError): no layer outside dead-letters it or counts
      // it against a circuit, though its wait ended before its retry deadline.
      throw new ClosedError(`handler "${ctx.handler}" (waiting to retry attempt ${ctx.attempt})`, {
        detail: 'the router is stopping; the message is left to be delivered again',
        cause: error,
      });
    }
    // Counted once the retry runs: a wait the router's stop cut short retried nothing.
    ctx.count('retried');
    ctx.attempt = first + n;
    return attempt(ctx, next, n + 1, started, first);
  };

  return withRole(function retry(_msg, ctx, next) {
    return attempt(ctx, next, 1, limited ? Date.now() : 0, ctx.attempt);
  }, 'retry');
}

/**
 * Whether `retry()` runs another attempt after this one failed with `error`: the attempt was not
 * its last, `retryable` accepts the error (never a ClosedError: the attempt or the router
 * stopped), and the wait would end within `maxElapsedMs`. `deadLetter()` asks the same, so inside
 * or outside `retry()` it dead-letters exactly what `retry()` gives up on. (Stopping is the
 * caller's to check.)
 */
export function retriedInProcess(ctx: RouterContext, error: unknown): boolean {
  if (ctx.final || ctx.ended || isClosedError(error)) return false;
  if (ctx.retryable !== undefined && !ctx.retryable(error)) return false;
  return ctx.retryDeadline === Number.POSITIVE_INFINITY || Date.now() <= ctx.retryDeadline;
}
