import protobufjs from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { deadLetter } from '../middleware/dead-letter.ts';
import { harness } from '../middleware/harness.test-support.ts';
import { protobuf } from './protobuf.ts';

const root = protobufjs.parse(`
  syntax = "proto3";
  package shop;
  enum Size { SMALL = 0; LARGE = 1; }
  message Order {
    string id = 1; int32 qty = 2; repeated int32 seats = 3; Customer customer = 4; map<string, int32> stock = 5;
    double price = 6; fixed32 code = 7; Size size = 8; repeated string tags = 9; repeated Customer others = 10; sint64 delta = 300;
  }
  message Customer { string name = 1; int32 age = 2; }
`).root;
type Order = Record<string, unknown>;
const codec = protobuf<Order>(root.lookupType('shop.Order'));
const at = { topic: 'orders', id: 'msg-1' };

const tag = (id: number, wire: number): number[] => varint(id * 8 + wire);
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  return [...out, n];
};
/** A length-delimited field: tag, length, then the bytes. */
const field = (id: number, body: readonly number[]): number[] => [...tag(id, 2), ...varint(body.length), ...body];
const ascii = (s: string): number[] => [...new TextEncoder().encode(s)];

/** The decode error for `bytes`, which must be refused both as a Uint8Array and as a Buffer. */
function decodeError(bytes: readonly number[]): Error & { code?: string } {
  let last: Error | undefined;
  for (const payload of [Uint8Array.from(bytes), Buffer.from(bytes)]) {
    try {
      codec.decode({ ...at, payload });
    } catch (error) {
      last = error as Error;
      continue;
    }
    throw new Error(`decoded ${JSON.stringify(bytes)} (as ${payload.constructor.name}) without an error`);
  }
  return last!;
}

describe('protobuf codec: known fields must carry the wire type of their declared type', () => {
  it('refuses a string field sent as a varint followed by bytes (protobufjs read them as text), naming the field and both wire types', () => {
    const error = decodeError([...tag(1, 0), 3, ...ascii('abc')]);
    expect(error.code).toBe('DECODE');
    expect(error.message).toMatch(/malformed shop\.Order protobuf: field id \(1\) arrived as wire type 0 \(varint\), but it is declared as wire type 2 \(length-delimited\)/);
  });

  it('refuses field number 0 (protobufjs skipped it as unknown)', () => {
    const error = decodeError([...tag(0, 0), 5, ...tag(2, 0), 7]);
    expect(error.code).toBe('DECODE');
    expect(error.message).toMatch(/has number 0, which protobuf does not allow/);
  });

  it('names the field and wire types for scalars, enums, nested messages, map entries and high field numbers', () => {
    const cases: Array<[number[], string]> = [
      [field(2, [1]), 'field qty (2) arrived as wire type 2 (length-delimited), but it is declared as wire type 0 (varint)'],
      [[...tag(6, 5), 0, 0, 0, 0], 'field price (6) arrived as wire type 5 (32-bit), but it is declared as wire type 1 (64-bit)'],
      [[...tag(7, 0), 1], 'field code (7) arrived as wire type 0 (varint), but it is declared as wire type 5 (32-bit)'],
      [[...tag(8, 1), 1, 0, 0, 0, 0, 0, 0, 0], 'field size (8) arrived as wire type 1 (64-bit), but it is declared as wire type 0 (varint)'],
      [[...tag(9, 0), 1], 'field tags (9) arrived as wire type 0 (varint), but it is declared as wire type 2'],
      [[...tag(4, 0), 1], 'field customer (4) arrived as wire type 0 (varint), but it is declared as wire type 2'],
      [field(4, [...tag(1, 0), 1]), 'field customer.name (1) arrived as wire type 0 (varint), but it is declared as wire type 2'],
      [field(10, field(2, [1])), 'field others.age (2) arrived as wire type 2 (length-delimited), but it is declared as wire type 0'],
      [field(5, [...field(1, ascii('k')), ...tag(2, 5), 0, 0, 0, 0]), 'field stock.<value> (2) arrived as wire type 5 (32-bit), but it is declared as wire type 0'],
      [field(5, [...tag(1, 0), 1, ...tag(2, 0), 1]), 'field stock.<key> (1) arrived as wire type 0 (varint), but it is declared as wire type 2'],
      [[...tag(300, 5), 0, 0, 0, 0], 'field delta (300) arrived as wire type 5 (32-bit), but it is declared as wire type 0 (varint)'],
      [field(4, [...tag(0, 0), 1]), 'a field inside customer has number 0'],
    ];
    for (const [bytes, message] of cases) expect(decodeError(bytes).message).toContain(message);
  });

  it('accepts packed and unpacked repeated scalars, skips unknown fields of every wire type, and decodes valid messages unchanged', () => {
    const value = { id: 'A-1', qty: 2, seats: [1, 2, 300], customer: { name: 'Ann', age: 40 }, stock: { x: 3 }, price: 1.5, code: 7, size: 'LARGE', tags: ['a'], others: [{ name: 'Bo' }], delta: '-5' };
    const encoded = [...codec.encode(value).payload];
    const unknown = [...tag(20, 0), 1, ...tag(21, 1), 0, 0, 0, 0, 0, 0, 0, 0, ...field(22, [0xff]), ...tag(23, 5), 0, 0, 0, 0, ...tag(24, 3), ...tag(1, 0), 1, ...tag(24, 4)];
    const unpacked = [...tag(3, 0), 4, ...tag(3, 0), 5];
    const packed = field(3, [6, 7]);
    const unknownInside = field(10, [...tag(9, 0), 1, ...field(1, ascii('Cy'))]);
    const decoded = codec.decode({ ...at, payload: Uint8Array.from([...encoded, ...unknown, ...unpacked, ...packed, ...unknownInside]) });
    expect(decoded).toMatchObject({ ...value, seats: [1, 2, 300, 4, 5, 6, 7], others: [{ name: 'Bo' }, { name: 'Cy' }] });
  });

  it('expects a proto2 group as start/end-group tags and checks the fields inside it', () => {
    const legacy = protobuf<Order>(protobufjs.parse('syntax = "proto2"; message Box { optional group Item = 1 { optional int32 n = 2; } }').root.lookupType('Box'));
    const decode = (bytes: number[]): unknown => legacy.decode({ ...at, payload: Uint8Array.from(bytes) });
    expect(decode([...tag(1, 3), ...tag(2, 0), 9, ...tag(1, 4)])).toMatchObject({ item: { n: 9 } });
    expect(() => decode([...tag(1, 3), ...tag(2, 5), 0, 0, 0, 0, ...tag(1, 4)])).toThrow(/field item\.n \(2\) arrived as wire type 5 \(32-bit\)/);
    expect(() => decode(field(1, [...tag(2, 0), 9]))).toThrow(/field item \(1\) arrived as wire type 2 \(length-delimited\), but it is declared as wire type 3 \(start-group\)/);
  });

  it('sends a message with a wrong wire type to the dead-letter topic with the reason, and the handler never sees it', async () => {
    let seen = 0;
    const h = await harness<Order>('pb-wire', [deadLetter({ maxAttempts: 5 })], () => void seen++, { codec });
    const bytes = [...tag(1, 0), 3, ...ascii('abc')];
    await h.bus.publish(h.topic, { payload: Uint8Array.from(bytes), headers: { 'content-type': 'application/x-protobuf' } });
    await h.dlq.untilCount(1, 5_000);
    const dead = h.dlq.messages[0]!;
    expect(dead.headers['x-error']).toMatch(/field id \(1\) arrived as wire type 0 \(varint\)/);
    expect([...dead.payload]).toEqual(bytes); // the original bytes, untouched
    expect(seen).toBe(0);
    await h.stop();
  });
});
