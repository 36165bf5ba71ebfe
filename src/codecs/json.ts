import { defineCodec, type Codec } from '../core/codec.ts';
import { DecodeError } from '../core/errors.ts';
import { validateSync, type InferOutput, type StandardSchema } from './standard-schema.ts';

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not a silent U+FFFD.
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON payloads. With a Standard Schema (zod, valibot, arktype…) the decoded value is validated
 * and typed by it; without one, `T` is trusted.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * const orderPlaced = json(z.object({ orderId: z.string(), total: z.number() }));
 * await bus.publish('orders.placed', orderPlaced.encode({ orderId: 'o-1', total: 42 }, { key: 'o-1' }));
 * ```
 */
export function json<T = unknown>(): Codec<T>;
export function json<S extends StandardSchema>(schema: S): Codec<InferOutput<S>>;
export function json(schema?: StandardSchema): Codec<unknown> {
  return defineCodec<unknown>({
    contentType: 'application/json',
    toBytes: (value) => {
      const text = JSON.stringify(value);
      if (text === undefined) throw new TypeError(`json codec: ${typeof value} cannot be encoded as JSON`);
      return encoder.encode(text);
    },
    fromBytes: (bytes, at) => {
      if (bytes.length === 0) throw new DecodeError(at, 'empty payload is not JSON');
      let value: unknown;
      try {
        value = JSON.parse(decoder.decode(bytes));
      } catch (error) {
        throw new DecodeError(at, `malformed JSON: ${(error as Error).message}`, { cause: error });
      }
      return schema ? validateSync(schema, value, at) : value;
    },
  });
}
