/**
 * What protobufjs's `fromObject` would coerce or drop, found before it does: `fromObject` turns
 * `"abc"` into 0, `1.9` into 1, an unknown enum name into the first value and drops unknown
 * fields, and `verify` then checks the coerced message. This checks the value as given against
 * the message's fields, accepting the JSON shape handlers use (64-bit integers as numbers or
 * decimal strings, enums as names or numbers, bytes as Uint8Array or base64).
 *
 * Works on protobufjs reflection (`Type.fieldsArray`, `Field.resolvedType`); a type without it
 * (a static class) is not checked here.
 */

import type { FieldShape, MessageShape } from './protobuf-shape.ts';

export type { MessageShape };

const INT32 = new Set(['int32', 'sint32', 'sfixed32']);
const UINT32 = new Set(['uint32', 'fixed32']);
const INT64 = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64 = new Set(['uint64', 'fixed64']);

/** True when `type` carries the reflection this check needs. */
export function hasFields(type: unknown): type is MessageShape {
  return Array.isArray((type as MessageShape | undefined)?.fieldsArray);
}

const resolved = new WeakSet<MessageShape>();

/** Problems with `value` as a `type` message, each with its field path; empty when it is fine. */
export function protobufProblems(type: MessageShape, value: unknown, path = ''): string[] {
  // protobufjs links a field to its message type only when that type first encodes, so before a
  // message's first encode its nested types' fields have no `resolvedType` and would go unchecked.
  if (!resolved.has(type)) {
    type.resolveAll?.();
    resolved.add(type);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path || 'value'}: object expected`];
  const byName = new Map(type.fieldsArray.map((f) => [f.name, f]));
  const problems: string[] = [];
  for (const [name, item] of Object.entries(value)) {
    const at = path ? `${path}.${name}` : name;
    const field = byName.get(name);
    if (!field) {
      problems.push(`${at}: no such field`);
      continue;
    }
    if (item === null || item === undefined) continue;
    if (field.map) {
      if (typeof item !== 'object' || Array.isArray(item)) problems.push(`${at}: object (map) expected`);
      else for (const [k, v] of Object.entries(item)) problems.push(...valueProblems(field, v, `${at}[${JSON.stringify(k)}]`));
    } else if (field.repeated) {
      if (!Array.isArray(item)) problems.push(`${at}: array expected`);
      else item.forEach((v: unknown, i: number) => problems.push(...valueProblems(field, v, `${at}[${i}]`)));
    } else problems.push(...valueProblems(field, item, at));
  }
  return problems;
}

function valueProblems(field: FieldShape, v: unknown, at: string): string[] {
  const resolved = field.resolvedType;
  if (resolved && 'values' in resolved) {
    const ok = typeof v === 'string' ? Object.hasOwn(resolved.values, v) : Number.isInteger(v) && Object.values(resolved.values).includes(v as number);
    return ok ? [] : [`${at}: ${JSON.stringify(v)} is not one of ${Object.keys(resolved.values).join(', ')}`];
  }
  if (resolved && 'fieldsArray' in resolved) return protobufProblems(resolved, v, at);
  const t = field.type;
  // JSON.stringify throws on a bigint.
  const bad = (what: string): string[] => [`${at}: ${what} expected, got ${typeof v === 'bigint' ? `${v}n` : (JSON.stringify(v) ?? typeof v)}`];
  if (t === 'string') return typeof v === 'string' ? [] : bad('string');
  if (t === 'bool') return typeof v === 'boolean' ? [] : bad('boolean');
  if (t === 'double' || t === 'float') return typeof v === 'number' ? [] : bad('number');
  if (t === 'bytes') return v instanceof Uint8Array || typeof v === 'string' ? [] : bad('bytes (Uint8Array or base64)');
  if (INT32.has(t)) return Number.isInteger(v) && (v as number) >= -(2 ** 31) && (v as number) < 2 ** 31 ? [] : bad('32-bit integer');
  if (UINT32.has(t)) return Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32 ? [] : bad('unsigned 32-bit integer');
  if (INT64.has(t) || UINT64.has(t)) {
    const unsigned = UINT64.has(t);
    // Strings and bigints within the type's range: fromObject (Long.fromString) wraps one beyond
    // it without a word, so 2^63 would be sent as -2^63.
    const [min, max] = unsigned ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
    const inRange = (b: bigint): boolean => b >= min && b <= max;
    const ok =
      (typeof v === 'number' && Number.isSafeInteger(v) && (!unsigned || v >= 0)) ||
      (typeof v === 'string' && (unsigned ? /^\d+$/ : /^-?\d+$/).test(v) && inRange(BigInt(v))) ||
      (typeof v === 'bigint' && inRange(v)) ||
      (typeof v === 'object' && v !== null && Number.isInteger((v as { low?: unknown }).low) && Number.isInteger((v as { high?: unknown }).high));
    return ok ? [] : bad(`${unsigned ? 'unsigned ' : ''}64-bit integer (a number or a decimal string)`);
  }
  return [];
}
