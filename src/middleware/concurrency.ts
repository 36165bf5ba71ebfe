import { ClosedError } from '../core/errors.ts';
import type { Middleware } from '../router/types.ts';

/**
 * Bounds how many handler attempts run at once through this middleware instance (per handler when
 * given in the route's `use`, across handlers when given to `router.use`). Messages over the bound
 * wait their turn, in arrival order. The route's `concurrency` option bounds intake; this bounds
 * work, e.g. calls to one downstream shared by several handlers.
 *
 * A waiting message gives up (a ClosedError: not acknowledged, delivered again later) when its
 * attempt's signal aborts or as soon as the router stops taking messages, so `stop()` waits for
 * the handlers running, not for the queue behind them.
 *
 * @example
 * ```ts
 * const db = concurrency(4); // at most 4 handlers talk to the database at once
 * router.handle('a', { ...routeA, use: [db] }, a).handle('b', { ...routeB, use: [db] }, b);
 * ```
 */
export function concurrency(max = 1): Middleware {
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`concurrency(max): max must be a whole number ≥ 1, got ${max}`);
  let running = 0;
  const waiting: Array<() => void> = [];
  const release = (): void => {
    const nextUp = waiting.shift();
    if (nextUp) nextUp();
    else running--;
  };
  return async function concurrency(_msg, ctx, next) {
    if (running < max) running++;
    else {
      // The attempt's signal, not only the stop signal: an attempt whose timeout() fired leaves the
      // queue at once, or it would take a slot (and run the handler) after its redelivery did.
      // And the router's stop: a message that has not started is left to be delivered again.
      const signal = ctx.signal;
      const stopped = ctx.intake.stopped;
      if (signal.aborted || stopped.aborted) throw waitAborted(ctx.handler, signal);
      await new Promise<void>((resolve, reject) => {
        const go = (): void => {
          signal.removeEventListener('abort', onAbort);
          stopped.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          waiting.splice(waiting.indexOf(go), 1);
          signal.removeEventListener('abort', onAbort);
          stopped.removeEventListener('abort', onAbort);
          reject(waitAborted(ctx.handler, signal));
        };
        waiting.push(go);
        signal.addEventListener('abort', onAbort, { once: true });
        stopped.addEventListener('abort', onAbort, { once: true });
      });
    }
    try {
      await next();
    } finally {
      release();
    }
  };
}

/** Why a wait ended: its attempt's signal aborted, or else the router is stopping. */
function waitAborted(handler: string, signal: AbortSignal): ClosedError {
  return signal.aborted
    ? new ClosedError(`handler "${handler}" (waiting for a concurrency() slot)`, { detail: 'its attempt was aborted', cause: signal.reason })
    : new ClosedError(`handler "${handler}" (waiting for a concurrency() slot)`, { detail: 'the router is stopping; the message is left to be delivered again' });
}
