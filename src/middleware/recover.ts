import { SwitchyardError, toError } from '../core/errors.ts';
import type { Middleware } from '../router/types.ts';

/**
 * Turns whatever a handler throws — a string, `undefined`, a plain object, a synchronous crash —
 * into a proper Error with a message and a stack, keeping the original as `cause`, so retry,
 * dead-letter and logs see a real error. Errors pass unchanged.
 *
 * @example
 * ```ts
 * router.use(recover(), retry(), deadLetter());
 * ```
 */
export function recover(): Middleware {
  return async function recover(_msg, ctx, next) {
    try {
      await next();
    } catch (thrown) {
      if (thrown instanceof Error) throw thrown;
      const error = toError(thrown);
      throw error instanceof SwitchyardError && error.message.startsWith('non-error')
        ? new SwitchyardError(`handler "${ctx.handler}" threw a ${describe(thrown)} instead of an Error: ${error.message}`, { cause: thrown })
        : error;
    }
  };
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}
