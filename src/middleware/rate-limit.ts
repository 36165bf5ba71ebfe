import { ClosedError, ConfigError } from '../core/errors.ts';
import { delay } from '../router/shutdown.ts';
import type { Middleware } from '../router/types.ts';
import { rangeProblems } from './option-problems.ts';

/** Rate limit settings. */
export interface RateLimitOptions {
  /** Messages per second, on average. */
  perSecond: number;
  /** Messages that may go at once after a quiet spell. Default 1 (evenly spaced). */
  burst?: number;
}

/**
 * Lets at most `perSecond` messages a second through this middleware instance (a token bucket
 * holding `burst` tokens). Messages over the rate wait; while they wait the subscription's
 * in-flight bound fills up, so intake slows down too (backpressure), nothing is dropped. A waiting
 * message gives up (a ClosedError: not acknowledged, delivered again later) when its attempt's
 * signal aborts or as soon as the router stops taking messages, so `stop()` does not wait for
 * the tokens of every message queued.
 *
 * @example
 * ```ts
 * router.handle('email', { ...route, use: [rateLimit({ perSecond: 50, burst: 10 })] }, sendEmail);
 * ```
 */
export function rateLimit(options: RateLimitOptions): Middleware {
  const perSecond = options?.perSecond;
  ConfigError.throwIfAny([
    // Infinity made the refill 0/0 = NaN: every message waited NaN ms.
    ...(typeof perSecond === 'number' && perSecond > 0 && Number.isFinite(perSecond) ? [] : [`rateLimit({ perSecond }): perSecond must be a positive number (finite), got ${String(perSecond)}`]),
    ...rangeProblems('rateLimit()', 'burst', options?.burst, 1),
  ]);
  const burst = options.burst ?? 1;
  const interval = 1_000 / perSecond;
  let tokens = burst;
  let refilled = performance.now();
  /** Time (performance.now) by which the last reserved token becomes available. */
  let chain = Promise.resolve();

  const take = async (signal: AbortSignal, stopped: AbortSignal, handler: string): Promise<void> => {
    if (signal.aborted) throw waitAborted(handler, signal); // gave up while queued: takes no token
    const now = performance.now();
    tokens = Math.min(burst, tokens + (now - refilled) / interval);
    refilled = now;
    tokens -= 1;
    if (tokens >= 0) return;
    const wait = -tokens * interval;
    if (!(await delay(wait, AbortSignal.any([signal, stopped])))) {
      tokens += 1; // not used: the next message may have it
      throw waitAborted(handler, signal);
    }
  };

  return async function rateLimit(_msg, ctx, next) {
    // Reserve tokens in arrival order. Waits end with the attempt's signal, not only the stop
    // signal: an attempt whose timeout() fired must not go on to the handler once its turn comes.
    // And when the router stops taking messages: stop() does not sit through the queue.
    const signal = ctx.signal;
    const stopped = ctx.intake.stopped;
    const turn = chain.then(() => take(signal, stopped, ctx.handler));
    chain = turn.catch(() => {});
    await turn;
    await next();
  };
}

/** Why a wait ended: its attempt's signal aborted, or else the router is stopping. */
function waitAborted(handler: string, signal: AbortSignal): ClosedError {
  return signal.aborted
    ? new ClosedError(`handler "${handler}" (waiting for rateLimit())`, { detail: 'its attempt was aborted', cause: signal.reason })
    : new ClosedError(`handler "${handler}" (waiting for rateLimit())`, { detail: 'the router is stopping; the message is left to be delivered again' });
}
