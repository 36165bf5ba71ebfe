import protobufjs from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { deadLetter } from '../middleware/dead-letter.ts';
import { harness } from '../middleware/harness.test-support.ts';
import { protobuf } from './protobuf.ts';

const root = protobufjs.parse(`
  syntax = "proto3";
  package shop;
  message Order { string id = 1; repeated string items = 2; Customer customer = 3; map<string, string> labels = 4; bytes blob = 5; int64 cents = 6; map<int32, Customer> by_seat = 7; Tree tree = 300; }
  message Customer { string name = 1; }
  message Tree { string label = 1; repeated Tree children = 2; }
`).root;
type Order = Record<string, unknown>;
const codec = protobuf<Order>(root.lookupType('shop.Order'));
const at = { topic: 'orders', id: 'msg-1' };

/** A length-delimited field: tag, length, then the bytes. Ids here are below 16 except where noted. */
const field = (id: number, body: readonly number[]): number[] => [...varint(id * 8 + 2), ...varint(body.length), ...body];
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  return [...out, n];
};
const ascii = (s: string): number[] => [...new TextEncoder().encode(s)];

function decodeError(bytes: readonly number[]): Error & { code?: string } {
  for (const payload of [Uint8Array.from(bytes), Buffer.from(bytes)]) {
    try {
      codec.decode({ ...at, payload });
    } catch (error) {
      if (payload instanceof Buffer) return error as Error;
      continue;
    }
    throw new Error(`decoded ${JSON.stringify(bytes)} (as ${payload.constructor.name}) without an error`);
  }
  throw new Error('unreachable');
}

describe('protobuf codec: string fields must be UTF-8', () => {
  // What protobufjs made of these before: "ab", "è", a lone surrogate, "\uFFFD", ...
  const bad: Array<[string, number[]]> = [
    ['a stray continuation byte', [0x61, 0x80, 0x62]],
    ['a lead byte without its continuation', [0xc3, 0x28]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['0xFF', [0xff]],
    ['an overlong "/"', [0xc0, 0xaf]],
    ['an overlong 3-byte form', [0xe0, 0x80, 0xaf]],
    ['a sequence cut short at the end', [0x61, 0xe2, 0x82]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [what, body] of bad) {
    it(`refuses ${what} with a DecodeError naming the field, as Uint8Array and as Buffer`, () => {
      const error = decodeError(field(1, body));
      expect(error.code).toBe('DECODE');
      expect(error.message).toMatch(/malformed shop\.Order protobuf: string field id is not valid UTF-8/);
    });
  }

  it('names the field where the bad string sits: repeated, nested, map key and value, deep in a recursive type', () => {
    const cases: Array<[number[], string]> = [
      [[...field(2, ascii('ok')), ...field(2, [0x80])], 'items'],
      [field(3, field(1, [0xff])), 'customer.name'],
      [field(4, [...field(1, [0xff]), ...field(2, ascii('v'))]), 'labels.<key>'],
      [field(4, [...field(1, ascii('k')), ...field(2, [0xff])]), 'labels.<value>'],
      [field(7, [0x08, 0x01, ...field(2, field(1, [0xc3]))]), 'bySeat.<value>.name'],
      [field(300, field(2, field(2, field(1, [0xed, 0xbf, 0xbf])))), 'tree.children.children.label'],
    ];
    for (const [bytes, path] of cases) expect(decodeError(bytes).message).toContain(`string field ${path} is not valid UTF-8`);
  });

  it('decodes valid text unchanged: multi-byte, 4-byte, a real U+FFFD, U+10FFFF; and leaves bytes fields and unknown fields alone', () => {
    const value = { id: 'zażółć 🚀 \uFFFD \u{10FFFF}', items: ['€', ''], customer: { name: 'Łukasz' }, labels: { ключ: 'значение' }, cents: '5' };
    const payload = Uint8Array.from([...codec.encode(value).payload, ...field(5, [0xff, 0x80]), ...field(15, [0xff])]);
    expect(codec.decode({ ...at, payload })).toMatchObject({ ...value, blob: Uint8Array.of(0xff, 0x80) });
  });

  it('sends a message with a bad string to the dead-letter topic with the reason, and the handler never sees it', async () => {
    let seen = 0;
    const h = await harness<Order>('pb-utf8', [deadLetter({ maxAttempts: 5 })], () => void seen++, { codec });
    await h.bus.publish(h.topic, { payload: Uint8Array.from(field(1, [0x61, 0x80])), headers: { 'content-type': 'application/x-protobuf' } });
    await h.dlq.untilCount(1, 5_000);
    const dead = h.dlq.messages[0]!;
    expect(dead.headers['x-error']).toMatch(/string field id is not valid UTF-8/);
    expect([...dead.payload]).toEqual(field(1, [0x61, 0x80])); // the original bytes, untouched
    expect(seen).toBe(0);
    await h.stop();
  });
});
