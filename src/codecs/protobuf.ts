import { defineCodec, type Codec } from '../core/codec.ts';
import { DecodeError, ValidationError } from '../core/errors.ts';
import { hasFields, protobufProblems } from './protobuf-check.ts';
import { canCheckUtf8, invalidUtf8Field } from './protobuf-utf8.ts';
import { canCheckWireTypes, wireTypeProblem } from './protobuf-wire-types.ts';

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
 * Before encoding, a value is checked field by field as given (with protobufjs reflection: a
 * string where a number goes, 1.9 for an int32, an unknown enum name or field is a
 * ValidationError naming each field, where `fromObject` alone would coerce or drop it), then
 * converted with `fromObject` and checked with `verify`. Decoding refuses truncated bytes with a
 * DecodeError, and so are known fields sent with a wire type their declared type does not have,
 * field number 0 (protobufjs would read either into garbage without a word; unknown fields are
 * still skipped) and string fields whose bytes are not valid UTF-8 (protobufjs would turn them
 * into other text); those checks need reflection, so a static generated class is decoded
 * unchecked. Decoded values are plain objects (`toObject` with longs as strings and
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
  // With reflection (protobufjs Type), values are checked as given, before fromObject coerces them.
  const checked = hasFields(type) ? type : undefined;
  checked?.resolveAll?.();
  const utf8Checked = canCheckUtf8(type) ? type : undefined;
  const wireChecked = canCheckWireTypes(type) ? type : undefined;
  return defineCodec<T>({
    contentType: `application/x-protobuf; messageType=${typeName}`,
    toBytes: (value) => {
      // fromObject converts the JSON-like shape handlers use (64-bit integers as decimal strings,
      // enums as names) and throws on what cannot be converted; verify catches the rest.
      if (checked) {
        const problems = protobufProblems(checked, value);
        if (problems.length > 0) throw encodeRejected(typeName, problems.join('; '));
      }
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
      // As a plain Uint8Array view: protobufjs reads a Node Buffer with a reader that clamps
      // lengths to the bytes there are, so a truncated message decoded into partial fields.
      const view = Buffer.isBuffer(bytes) ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
      // Before decode: a wrong wire type can make decode fail with an unrelated reason ("index out
      // of range"), or worse, succeed.
      const badWire = wireChecked && wireTypeProblem(wireChecked, view);
      if (badWire) throw new DecodeError(at, `malformed ${typeName} protobuf: ${badWire}`);
      try {
        decoded = type.decode(view);
      } catch (error) {
        throw new DecodeError(at, `malformed ${typeName} protobuf: ${(error as Error).message}`, { cause: error });
      }
      const badText = utf8Checked && invalidUtf8Field(utf8Checked, view);
      if (badText) throw new DecodeError(at, `malformed ${typeName} protobuf: string field ${badText} is not valid UTF-8 (the producer must send text as UTF-8, or declare the field as bytes)`);
      const object = type.toObject ? type.toObject(decoded, { longs: String, enums: String, defaults: true }) : decoded;
      return object as T;
    },
  });
}

function encodeRejected(typeName: string, problem: string): ValidationError {
  return new ValidationError({ topic: '(encode)', messageId: '(encode)' }, [{ message: `${typeName}: ${problem}` }]);
}
