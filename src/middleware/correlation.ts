import type { Middleware } from '../router/types.ts';

/** The header naming the conversation a message belongs to. */
export const CORRELATION_HEADER = 'x-correlation-id';
/** The header naming the message that caused this one. */
export const CAUSATION_HEADER = 'x-causation-id';

/**
 * Carries `x-correlation-id` from an incoming message to every message its handler publishes
 * (the incoming id starts a new conversation when the header is absent) and sets
 * `x-causation-id` to the incoming message's id. Headers a handler sets itself win. The incoming
 * header is found in any case (`X-Correlation-ID` from another client); it goes on lower case.
 *
 * @example
 * ```ts
 * router.use(correlation());
 * // in a handler: ctx.headers['x-correlation-id'] names the conversation
 * ```
 */
export function correlation(): Middleware {
  return async function correlation(msg, ctx, next) {
    ctx.outgoingHeaders[CORRELATION_HEADER] = msg.headers[CORRELATION_HEADER] || correlationInAnyCase(msg.headers) || msg.id;
    ctx.outgoingHeaders[CAUSATION_HEADER] = msg.id;
    await next();
  };
}

/**
 * The correlation header under another spelling: header names are case-insensitive to most
 * producers (HTTP gateways, other AMQP and Kafka clients), and a conversation they started must
 * not restart here. Only read when the lower-case name is absent; lower-cases only names of the
 * right length.
 */
function correlationInAnyCase(headers: Readonly<Record<string, string>>): string | undefined {
  for (const name in headers) {
    if (name.length === CORRELATION_HEADER.length && name.toLowerCase() === CORRELATION_HEADER && headers[name]) return headers[name];
  }
  return undefined;
}
