import { validateAsync, type StandardSchema } from '../codecs/standard-schema.ts';
import type { Middleware } from '../router/types.ts';

/**
 * Validates the decoded payload against a Standard Schema (zod, valibot, arktype…), async ones
 * included; the handler then sees the schema's output. A failure is a ValidationError, which is
 * permanent: `deadLetter()` sends the message to the dead-letter topic at once with the issues
 * in `x-error`.
 *
 * @example
 * ```ts
 * const OrderPlaced = z.object({ orderId: z.string(), total: z.number().positive() });
 * router.handle('bill', { from: bus, topic: 'orders.placed', group: 'billing', codec: json(), use: [validate(OrderPlaced)] }, handler);
 * ```
 */
export function validate(schema: StandardSchema): Middleware {
  if (typeof schema?.['~standard']?.validate !== 'function') {
    throw new TypeError('validate(schema): schema must implement Standard Schema (zod, valibot, arktype…)');
  }
  return async function validate(msg, ctx, next) {
    ctx.setPayload(await validateAsync(schema, ctx.payload(), { topic: msg.topic, messageId: msg.id }));
    await next();
  };
}
