import { defineCodec, type Codec } from '../core/codec.ts';
import { DecodeError, ValidationError } from '../core/errors.ts';

/**
 * A Protocol Buffers message type in the shape protobufjs gives (`root.lookupType('Order')`, or a
 * static generated class): encode, decode and, optionally, verify. Declared structurally so the
 * root export needs no protobuf library at run time.
 */
export interface ProtobufType<T> {
  readonly fullName?: string;
  readonly name?: string;
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
  verify?(message: Record<string, unknown>): string | null;
  fromObject?(object: Record<string, unknown>): T;
  toObject?(message: T, options?: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Protocol Buffers payloads through protobufjs.
 *
 * Values are converted with the type's `fromObject` and checked with `verify` before encoding
 * (a value that cannot be converted is a ValidationError, not silently dropped), and decoded values are plain objects (`toObject` with longs as strings and
 * enums as names), so handlers get the same shape as JSON consumers would.
 *
 * @example
 * ```ts
 * import protobufjs from 'protobufjs';
 * const root = protobufjs.parse('syntax = "proto3"; message Order { string id = 1; int32 qty = 2; }').root;
 * const order = protobuf<{ id: string; qty: number }>(root.lookupType('Order'));
 * ```
 */
export function protobuf<T>(type: ProtobufType<unknown>): Codec<T> {
  const typeName = (type.fullName ?? type.name ?? 'message').replace(/^\./, '');
  return defineCodec<T>({
    contentType: `application/x-protobuf; messageType=${typeName}`,
    toBytes: (value) => {
      // fromObject converts the JSON-like shape handlers use (64-bit integers as decimal strings,
      // enums as names) and throws on what cannot be converted; verify catches the rest.
      let message: unknown;
      try {
        message = type.fromObject ? type.fromObject(value as Record<string, unknown>) : value;
      } catch (error) {
        throw encodeRejected(typeName, (error as Error).message);
      }
      const problem = type.verify?.(message as Record<string, unknown>);
      if (problem) throw encodeRejected(typeName, problem);
      return type.encode(message).finish();
    },
    fromBytes: (bytes, at) => {
      let decoded: unknown;
      try {
        decoded = type.decode(bytes);
      } catch (error) {
        throw new DecodeError(at, `malformed ${typeName} protobuf: ${(error as Error).message}`, { cause: error });
      }
      const object = type.toObject ? type.toObject(decoded, { longs: String, enums: String, defaults: true }) : decoded;
      return object as T;
    },
  });
}

function encodeRejected(typeName: string, problem: string): ValidationError {
  return new ValidationError({ topic: '(encode)', messageId: '(encode)' }, [{ message: `${typeName}: ${problem}` }]);
}
