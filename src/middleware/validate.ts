import { validateAsync, type StandardSchema } from '../codecs/standard-schema.ts';
import { contextKey, type Middleware } from '../router/types.ts';

/**
 * Validates the decoded payload against a Standard Schema (zod, valibot, arktype…), async ones
 * included; the handler then sees the schema's output. A failure is a ValidationError, which is
 * permanent: `deadLetter()` sends the message to the dead-letter topic at once with the issues
 * in `x-error`.
 *
 * A message is validated once per delivery: when `retry()` runs the chain again, the payload is
 * already this schema's output and is passed on as it is (validating the output again would
 * apply a transform twice, or refuse a valid message whose output is not valid input).
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
  // Per instance: two validate() in one chain each validate what reaches them.
  const validated = contextKey<{ output: unknown }>('validate() output');
  return async function validate(msg, ctx, next) {
    const payload = ctx.payload();
    const earlier = ctx.get(validated);
    if (earlier === undefined || !Object.is(earlier.output, payload)) {
      const output = await validateAsync(schema, payload, { topic: msg.topic, messageId: msg.id });
      ctx.setPayload(output);
      ctx.set(validated, { output });
    }
    await next();
  };
}
