/**
 * Finds a known field sent with a wire type its declared type does not have, or field number 0.
 *
 * protobufjs reads a known field by its declared type whatever wire type the tag says: a string
 * field 1 sent as a varint reads the varint as a length and the following bytes as text, and
 * field number 0 (which protobuf forbids) is skipped as unknown. Either way the result is garbage
 * that looks like a message. This walks the wire bytes once, guided by protobufjs reflection, into
 * nested messages, groups and map entries as well, since that costs one more look at each tag and
 * nothing else. Unknown fields are skipped (forward compatibility), and a repeated scalar field
 * may also come packed (wire type 2).
 */

import type { FieldShape, MessageShape } from './protobuf-shape.ts';

const VARINT = 0;
const FIXED64 = 1;
const LENGTH = 2;
const START_GROUP = 3;
const END_GROUP = 4;
const FIXED32 = 5;

const WIRE_NAMES = ['varint', '64-bit', 'length-delimited', 'start-group', 'end-group', '32-bit', '6', '7'];

/** Wire types of the scalar types; enums are varints, messages length-delimited (or groups). */
const SCALAR_WIRE: Readonly<Record<string, number>> = {
  double: FIXED64, float: FIXED32,
  int32: VARINT, uint32: VARINT, sint32: VARINT, int64: VARINT, uint64: VARINT, sint64: VARINT, bool: VARINT,
  fixed32: FIXED32, sfixed32: FIXED32, fixed64: FIXED64, sfixed64: FIXED64,
  string: LENGTH, bytes: LENGTH,
};

/** What a known field may arrive as. */
interface Expect {
  readonly name: string;
  readonly wire: number;
  /** A repeated scalar: may also arrive packed, as one length-delimited run. */
  readonly packable: boolean;
  /** The fields inside, for a message, group or map entry. */
  readonly inner?: Plan;
}

interface Plan {
  /** By field id: an array for the usual small ids, a map for the rest. */
  readonly near: Array<Expect | undefined>;
  readonly far: Map<number, Expect>;
}

const NEAR_IDS = 256;
/** Deeper than protobufjs decodes (its recursion limit is 100): decode refuses such bytes itself. */
const MAX_DEPTH = 100;
const plans = new WeakMap<MessageShape, Plan>();
const NOTHING_KNOWN: Plan = { near: [], far: new Map() };

/** Whether `type` (a protobufjs Type) carries the field ids and types this check needs. */
export function canCheckWireTypes(type: unknown): type is MessageShape {
  const fields = (type as MessageShape | undefined)?.fieldsArray;
  return Array.isArray(fields) && fields.every((f: FieldShape) => Number.isInteger(f.id) && typeof f.type === 'string');
}

/**
 * Why `bytes` cannot be a `type` message as far as wire types go (`field id (1) arrived as wire
 * type 0 (varint), but a string is sent as wire type 2 (length-delimited)`), or `undefined`. Bytes
 * cut short are left for `type.decode` to refuse.
 */
export function wireTypeProblem(type: MessageShape, bytes: Uint8Array): string | undefined {
  const walk = new Walk(bytes);
  return walk.fields(planOf(type), bytes.length, -1, '', 0);
}

function planOf(type: MessageShape): Plan {
  let plan = plans.get(type);
  if (plan) return plan;
  // Registered before its fields are planned, so a type that holds itself finds this plan.
  plan = { near: [], far: new Map() };
  plans.set(type, plan);
  // protobufjs links a field to its message or enum type lazily; until then `resolvedType` is null.
  type.resolveAll?.();
  for (const field of type.fieldsArray) setExpect(plan, field.id, expectOf(field));
  return plan;
}

function expectOf(field: FieldShape): Expect {
  if (field.map) {
    // A map entry is a message of its own: key = field 1, value = field 2.
    const inner: Plan = { near: [], far: new Map() };
    setExpect(inner, 1, { name: '<key>', wire: SCALAR_WIRE[field.keyType ?? ''] ?? LENGTH, packable: false });
    setExpect(inner, 2, expectOf({ name: '<value>', id: 2, type: field.type, resolvedType: field.resolvedType }));
    return { name: field.name, wire: LENGTH, packable: false, inner };
  }
  const resolved = field.resolvedType;
  if (resolved && 'fieldsArray' in resolved) {
    return { name: field.name, wire: field.delimited ? START_GROUP : LENGTH, packable: false, inner: planOf(resolved) };
  }
  // An enum, or a type protobufjs could not link (it then fails to decode on its own).
  const wire = resolved && 'values' in resolved ? VARINT : (SCALAR_WIRE[field.type] ?? LENGTH);
  return { name: field.name, wire, packable: field.repeated === true && wire !== LENGTH };
}

function setExpect(plan: Plan, id: number, expect: Expect): void {
  if (id < NEAR_IDS) plan.near[id] = expect;
  else plan.far.set(id, expect);
}

function expectFor(plan: Plan, id: number): Expect | undefined {
  return id < NEAR_IDS ? plan.near[id] : plan.far.size === 0 ? undefined : plan.far.get(id);
}

/** A read position over one message's bytes. */
class Walk {
  private pos = 0;
  private readonly b: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.b = bytes;
  }

  /**
   * Checks fields up to `end` (or the end-group tag of `group`); the first problem, with the path
   * of the field (`customer.name`) built only then.
   */
  fields(plan: Plan, end: number, group: number, path: string, depth: number): string | undefined {
    if (depth > MAX_DEPTH) {
      this.pos = this.b.length; // gives up on the whole walk; decode refuses the depth
      return undefined;
    }
    while (this.pos < end) {
      const tag = this.varint();
      const wire = tag % 8;
      const id = (tag - wire) / 8;
      if (id === 0) return `${path ? `a field inside ${path}` : 'a field'} has number 0, which protobuf does not allow (the bytes are not a protobuf message, or are corrupted)`;
      if (wire === END_GROUP && id === group) return undefined;
      const expect = expectFor(plan, id);
      if (expect && wire !== expect.wire && !(expect.packable && wire === LENGTH)) {
        const at = path ? `${path}.${expect.name}` : expect.name;
        return `field ${at} (${id}) arrived as wire type ${wire} (${WIRE_NAMES[wire]}), but it is declared as wire type ${expect.wire} (${WIRE_NAMES[expect.wire]}); the producer must encode it with the same .proto definition`;
      }
      if (wire === VARINT) this.varint();
      else if (wire === FIXED64) this.pos += 8;
      else if (wire === FIXED32) this.pos += 4;
      else if (wire === LENGTH) {
        const length = this.varint();
        const after = this.pos + length;
        if (after > end) return undefined; // cut short: decode refuses it
        if (expect?.inner) {
          const problem = this.fields(expect.inner, after, -1, path ? `${path}.${expect.name}` : expect.name, depth + 1);
          if (problem !== undefined) return problem;
        }
        this.pos = after;
      } else if (wire === START_GROUP) {
        const inner = expect?.inner ?? NOTHING_KNOWN;
        const problem = this.fields(inner, end, id, expect ? (path ? `${path}.${expect.name}` : expect.name) : path, depth + 1);
        if (problem !== undefined) return problem;
      } else return undefined; // a stray end-group tag or no wire type at all: decode refuses it
    }
    return undefined;
  }

  private varint(): number {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = this.b[this.pos++];
      if (byte === undefined) return value;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  }
}
