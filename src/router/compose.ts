import type { Message } from '../core/message.ts';
import type { Middleware, RouterContext } from './types.ts';

/** The innermost step of a chain: the handler itself. */
export type Terminal = (message: Message, ctx: RouterContext) => Promise<void>;

/**
 * Builds the onion: `middleware[0]` is outermost, `terminal` innermost. `next()` may be called
 * more than once (the retry middleware runs the rest of the chain again); each call runs the
 * remaining layers afresh. A middleware or handler that throws synchronously rejects instead.
 *
 * @example
 * ```ts
 * const run = compose([correlation(), retry()], async (msg, ctx) => { ... });
 * await run(message, ctx);
 * ```
 */
export function compose(middleware: readonly Middleware[], terminal: Terminal): Terminal {
  const layers = [...middleware];
  for (const [i, m] of layers.entries()) {
    if (typeof m !== 'function') throw new TypeError(`middleware ${i} is not a function (got ${typeof m})`);
  }
  const dispatch = async (i: number, message: Message, ctx: RouterContext): Promise<void> => {
    if (i === layers.length) return terminal(message, ctx);
    return layers[i]!(message, ctx, () => dispatch(i + 1, message, ctx));
  };
  return (message, ctx) => dispatch(0, message, ctx);
}
