import { TimeoutError } from '../core/errors.ts';
import { AttemptContext } from '../router/attempt-context.ts';
import { withRole } from '../router/middleware-order.ts';
import type { Middleware } from '../router/types.ts';

/**
 * Fails an attempt that takes longer than `ms` with a TimeoutError (transient: retried, then
 * redelivered or dead-lettered) and aborts `ctx.signal` so the handler's own calls stop.
 *
 * The layers inside run with a view of the context for this attempt alone (an `AttemptContext`):
 * when the deadline passes it ends, so whatever of the attempt still runs cannot act for the
 * attempt or redelivery that follows — a middleware still waiting (for a circuit, a slot, a token)
 * never calls the handler, a late `ctx.publish()` throws a ClosedError, and `ctx.signal` stays
 * aborted. A handler that ignores its signal keeps running in the background, so honour
 * `ctx.signal`.
 *
 * Install it inside `retry()` and `deadLetter()` (after them in `use`): outside them it ends the
 * attempt they run, so a message that keeps timing out is neither retried nor dead-lettered but
 * delivered again for ever (the router warns about that order at start).
 *
 * @example
 * ```ts
 * router.use(retry(), deadLetter(), timeout(5_000));
 * router.handle('fetcher', route, async (msg, ctx) => { await fetch(url, { signal: ctx.signal }); });
 * ```
 */
export function timeout(ms = 30_000): Middleware {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`timeout(ms): ms must be a positive number, got ${ms}`);
  return withRole(async function timeout(_msg, ctx, next) {
    // Its signal follows ctx.signal and aborts when it ends; made only if the handler reads it.
    const attempt = new AttemptContext(ctx);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TimeoutError(`handler "${ctx.handler}" (attempt ${ctx.attempt})`, ms);
        attempt.end(error); // sets `ended`, then aborts the attempt's signal
        reject(error);
      }, ms);
    });
    try {
      await Promise.race([next(attempt), expired]);
    } finally {
      clearTimeout(timer);
    }
  }, 'timeout');
}
