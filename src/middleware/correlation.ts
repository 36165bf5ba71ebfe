import type { Middleware } from '../router/types.ts';

/** The header naming the conversation a message belongs to. */
export const CORRELATION_HEADER = 'x-correlation-id';
/** The header naming the message that caused this one. */
export const CAUSATION_HEADER = 'x-causation-id';

/**
 * Carries `x-correlation-id` from an incoming message to every message its handler publishes
 * (the incoming id starts a new conversation when the header is absent) and sets
 * `x-causation-id` to the incoming message's id. Headers a handler sets itself win.
 *
 * @example
 * ```ts
 * router.use(correlation());
 * // in a handler: ctx.headers['x-correlation-id'] names the conversation
 * ```
 */
export function correlation(): Middleware {
  return async function correlation(msg, ctx, next) {
    ctx.outgoingHeaders[CORRELATION_HEADER] = msg.headers[CORRELATION_HEADER] || msg.id;
    ctx.outgoingHeaders[CAUSATION_HEADER] = msg.id;
    await next();
  };
}
