import type { Message } from '../core/message.ts';
import { AttemptContext, attemptEndedError } from './attempt-context.ts';
import type { Middleware, RouterContext } from './types.ts';

/** The innermost step of a chain: the handler itself. */
export type Terminal = (message: Message, ctx: RouterContext) => Promise<void>;

/**
 * Builds the onion: `middleware[0]` is outermost, `terminal` innermost. `next()` may be called
 * more than once (the retry middleware runs the remaining layers again); each call runs the
 * remaining layers afresh. A middleware or handler that throws synchronously rejects instead.
 *
 * Each layer's promise is passed on as it is (no wrapping async function per layer): this is the
 * per-message hot path. A layer whose `skip(message)` says it has nothing to do is stepped over.
 *
 * `next(attempt)` with an `AttemptContext` runs the remaining layers with that view instead of
 * `ctx` (how `timeout()` gives each attempt its own signal). Once a context has `ended`, the
 * chain does not go on for it: its `next()` rejects with a ClosedError, so a middleware still
 * waiting in an attempt that timed out never calls the handler after the attempt that follows.
 *
 * @example
 * ```ts
 * const run = compose([correlation(), retry()], async (msg, ctx) => { ... });
 * await run(message, ctx);
 * ```
 */
export function compose(middleware: readonly Middleware[], terminal: (message: Message, ctx: RouterContext) => Promise<void> | void): Terminal {
  const layers = [...middleware];
  for (const [i, m] of layers.entries()) {
    if (typeof m !== 'function') throw new TypeError(`middleware ${i} is not a function (got ${typeof m})`);
  }
  const n = layers.length;
  const skips = layers.map((m) => m.skip);
  const dispatch = (i: number, message: Message, ctx: RouterContext): Promise<void> => {
    try {
      if (ctx.ended) return Promise.reject(attemptEndedError(ctx, i === n ? 'running the handler' : `running ${layers[i]!.name || 'middleware'} and the rest of the chain`));
      while (i < n && skips[i]?.(message) === true) i++;
      // Promise.resolve returns a native promise as is, and turns a plain value or thenable into one.
      if (i === n) return Promise.resolve(terminal(message, ctx));
      return Promise.resolve(
        layers[i]!(message, ctx, (attempt?: RouterContext) => dispatch(i + 1, message, attempt instanceof AttemptContext ? attempt : ctx)),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  };
  return (message, ctx) => dispatch(0, message, ctx);
}
