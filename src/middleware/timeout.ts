import { TimeoutError } from '../core/errors.ts';
import type { Middleware } from '../router/types.ts';

/**
 * Fails an attempt that takes longer than `ms` with a TimeoutError (transient: retried, then
 * redelivered or dead-lettered) and aborts `ctx.signal` so the handler's own calls stop. A handler
 * that ignores its signal keeps running in the background, so honour `ctx.signal`.
 *
 * @example
 * ```ts
 * router.use(timeout(5_000));
 * router.handle('fetcher', route, async (msg, ctx) => { await fetch(url, { signal: ctx.signal }); });
 * ```
 */
export function timeout(ms = 30_000): Middleware {
  if (!Number.isFinite(ms) || ms <= 0) throw new RangeError(`timeout(ms): ms must be a positive number, got ${ms}`);
  return async function timeout(_msg, ctx, next) {
    const controller = new AbortController();
    const outer = ctx.signal;
    ctx.signal = AbortSignal.any([outer, controller.signal]);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new TimeoutError(`handler "${ctx.handler}" (attempt ${ctx.attempt})`, ms);
        controller.abort(error);
        reject(error);
      }, ms);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
      ctx.signal = outer;
    }
  };
}
