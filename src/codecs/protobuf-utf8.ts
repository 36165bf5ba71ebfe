/**
 * Finds a string field whose bytes are not valid UTF-8 in an encoded protobuf message.
 *
 * protobufjs decodes such bytes without a word, and not even consistently: a stray continuation
 * byte is dropped, `C3 28` becomes "è", an encoded surrogate becomes a lone surrogate, `FF` a
 * replacement character. The decoded strings cannot tell those from real text, so this walks the
 * wire bytes instead, guided by protobufjs reflection, and checks only the byte ranges of string
 * fields (map keys and values included), without decoding them again. A type with no string
 * field anywhere in it is never walked.
 */

import type { FieldShape, MessageShape } from './protobuf-shape.ts';

/** The part of a protobufjs `Type` this needs. */
export type TypeShape = MessageShape;

/** What to do with a length-delimited field: check its bytes as text, or look inside. */
type Step = { readonly name: string; readonly text: true } | { readonly name: string; readonly text: false; readonly inner: Plan };

interface Plan {
  /** Steps by field id: an array for the usual small ids, a map for the rest. */
  readonly near: Array<Step | undefined>;
  readonly far: Map<number, Step>;
  /** Whether any string lies in this type or a type it holds (false: nothing to walk); known once asked. */
  hasText?: boolean;
}

const plans = new WeakMap<TypeShape, Plan>();
const NEAR_IDS = 256;

/** Whether `type` (a protobufjs Type) carries the field ids and types this check needs. */
export function canCheckUtf8(type: unknown): type is TypeShape {
  const fields = (type as TypeShape | undefined)?.fieldsArray;
  return Array.isArray(fields) && fields.every((f: FieldShape) => Number.isInteger(f.id) && typeof f.type === 'string');
}

/**
 * The path (`customer.name`, `labels.<value>`) of the first string field in `bytes` that is not
 * valid UTF-8, or `undefined` when all are. Expects bytes that `type.decode` already accepted.
 */
export function invalidUtf8Field(type: TypeShape, bytes: Uint8Array): string | undefined {
  const plan = planOf(type);
  if (!hasText(plan)) return undefined;
  pos = 0;
  return scan(plan, bytes, bytes.length, -1);
}

function planOf(type: TypeShape): Plan {
  let plan = plans.get(type);
  if (plan) return plan;
  // Registered before its fields are planned, so a type that holds itself (or a type holding it)
  // finds this plan.
  plan = { near: [], far: new Map() };
  plans.set(type, plan);
  // protobufjs links a field to its message type lazily (when that type first encodes or
  // decodes); until then `resolvedType` is null, and a nested message would look like no string.
  type.resolveAll?.();
  for (const field of type.fieldsArray) {
    const step = stepOf(field);
    if (step) setStep(plan, field.id, step);
  }
  return plan;
}

/**
 * Whether a string can be reached from `plan`. Asked only once plans are complete: types may hold
 * each other, so it cannot be known while one of them is still being planned.
 */
function hasText(plan: Plan): boolean {
  if (plan.hasText !== undefined) return plan.hasText;
  const seen = new Set<Plan>([plan]);
  const todo = [plan];
  let found = false;
  while (!found && todo.length > 0) {
    const next = todo.pop()!;
    for (const step of [...next.near, ...next.far.values()]) {
      if (step === undefined) continue;
      if (step.text) found = true;
      else if (!seen.has(step.inner)) {
        seen.add(step.inner);
        todo.push(step.inner);
      }
    }
  }
  plan.hasText = found;
  return found;
}

function setStep(plan: Plan, id: number, step: Step): void {
  if (id < NEAR_IDS) plan.near[id] = step;
  else plan.far.set(id, step);
}

function stepFor(plan: Plan, id: number): Step | undefined {
  return id < NEAR_IDS ? plan.near[id] : plan.far.size === 0 ? undefined : plan.far.get(id);
}

function stepOf(field: FieldShape): Step | undefined {
  if (field.map) {
    // A map entry is a message of its own: key = field 1, value = field 2.
    const value = stepOf({ name: '<value>', id: 2, type: field.type, resolvedType: field.resolvedType });
    const inner: Plan = { near: [], far: new Map() };
    if (field.keyType === 'string') setStep(inner, 1, { name: '<key>', text: true });
    if (value) setStep(inner, 2, value);
    return inner.near.length > 0 ? { name: field.name, text: false, inner } : undefined;
  }
  if (field.type === 'string') return { name: field.name, text: true };
  const resolved = field.resolvedType;
  if (resolved && 'fieldsArray' in resolved) return { name: field.name, text: false, inner: planOf(resolved) };
  return undefined;
}

/**
 * Read position in the bytes being walked. Module state rather than an object passed along: the
 * walk is synchronous and never re-entered, and this keeps it free of allocations.
 */
let pos = 0;

/** Walks fields up to `end` (or to the end-group tag of `group`); the first bad string's path. */
function scan(plan: Plan, b: Uint8Array, end: number, group: number): string | undefined {
  while (pos < end) {
    const tag = varint(b);
    const wire = tag % 8;
    const id = (tag - wire) / 8;
    if (wire === 0) varint(b);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint(b);
      const start = pos;
      pos += length;
      if (pos > end) return undefined; // decode accepted these bytes; nothing sensible to add
      const step = stepFor(plan, id);
      if (step === undefined) continue;
      if (step.text) {
        if (!isUtf8(b, start, pos)) return step.name;
      } else if (hasText(step.inner)) {
        const after = pos;
        pos = start;
        const bad = scan(step.inner, b, after, -1);
        if (bad !== undefined) return `${step.name}.${bad}`; // the path is built only for a bad string
        pos = after;
      }
    } else if (wire === 3) {
      // A proto2 group: its fields follow inline, up to the matching end-group tag.
      const step = stepFor(plan, id);
      const bad = scan(step !== undefined && !step.text ? step.inner : EMPTY, b, end, id);
      if (bad !== undefined) return step === undefined ? bad : `${step.name}.${bad}`;
    } else if (wire === 4) {
      if (id === group) return undefined;
    } else return undefined; // not a wire type protobuf has; decode would have refused it
  }
  return undefined;
}

const EMPTY: Plan = { near: [], far: new Map(), hasText: false };

function varint(b: Uint8Array): number {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) return value;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return value;
    scale *= 128;
  }
}

/**
 * Whether `b[start, end)` is well-formed UTF-8 (the WHATWG decoder's rules: no overlong forms, no
 * surrogates, nothing above U+10FFFF), without decoding it.
 */
function isUtf8(b: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) i++;
    else if (c >= 0xc2 && c <= 0xdf) {
      if (i + 1 >= end || (b[i + 1]! & 0xc0) !== 0x80) return false;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (i + 2 >= end) return false;
      const c1 = b[i + 1]!;
      if ((c1 & 0xc0) !== 0x80 || (b[i + 2]! & 0xc0) !== 0x80) return false;
      if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f)) return false; // overlong; surrogate
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (i + 3 >= end) return false;
      const c1 = b[i + 1]!;
      if ((c1 & 0xc0) !== 0x80 || (b[i + 2]! & 0xc0) !== 0x80 || (b[i + 3]! & 0xc0) !== 0x80) return false;
      if ((c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return false; // overlong; above U+10FFFF
      i += 4;
    } else return false;
  }
  return true;
}
