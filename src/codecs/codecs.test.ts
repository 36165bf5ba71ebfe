import { runInNewContext } from 'node:vm';
import { type } from 'arktype';
import protobufjs from 'protobufjs';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isConfigError, type DecodeError, type ValidationError } from '../core/errors.ts';
import { json } from './json.ts';
import { protobuf } from './protobuf.ts';
import { raw, text } from './raw.ts';
import type { StandardSchema } from './standard-schema.ts';

const at = { topic: 'orders.placed', id: 'msg-1' };
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const failure = (fn: () => unknown): Error & { code?: string } => {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
};

describe('json codec', () => {
  it('round-trips values and writes its content type', () => {
    const codec = json<{ orderId: string; total: number }>();
    const out = codec.encode({ orderId: 'o-1', total: 42.5 }, { key: 'c-1', headers: { a: 'b' } });
    expect(out.key).toBe('c-1');
    expect(out.headers).toEqual({ a: 'b', 'content-type': 'application/json' });
    expect(codec.decode({ ...at, payload: out.payload })).toEqual({ orderId: 'o-1', total: 42.5 });
  });

  it('raises DecodeError naming topic, message id and reason for malformed JSON, empty payloads and invalid UTF-8', () => {
    const codec = json();
    const malformed = failure(() => codec.decode({ ...at, payload: bytes('{"orderId": ') })) as DecodeError;
    expect(malformed.code).toBe('DECODE');
    expect(malformed.message).toMatch(/^cannot decode message msg-1 on "orders.placed": malformed JSON/);
    expect(failure(() => codec.decode({ ...at, payload: new Uint8Array(0) })).message).toMatch(/empty payload/);
    expect(failure(() => codec.decode({ ...at, payload: Uint8Array.of(0x22, 0xff, 0x22) })).code).toBe('DECODE');
  });

  it('refuses values JSON cannot represent', () => {
    expect(() => json().encode(undefined)).toThrow(/cannot be encoded as JSON/);
  });

  const order = { orderId: 'o-1', total: 3 };
  const broken = { orderId: 7, total: 'three' };
  for (const [vendor, schema] of [
    ['zod', z.object({ orderId: z.string(), total: z.number() })],
    ['valibot', v.object({ orderId: v.string(), total: v.number() })],
    ['arktype', type({ orderId: 'string', total: 'number' })],
  ] as const) {
    it(`validates with a ${vendor} schema through Standard Schema`, () => {
      const codec = json(schema);
      expect(codec.decode({ ...at, payload: bytes(JSON.stringify(order)) })).toEqual(order);
      const error = failure(() => codec.decode({ ...at, payload: bytes(JSON.stringify(broken)) })) as ValidationError;
      expect(error.code).toBe('VALIDATION');
      expect(error.issues.length).toBeGreaterThanOrEqual(2);
      expect(error.message).toMatch(/^message msg-1 on "orders.placed" failed validation: /);
      expect(error.message).toMatch(/orderId/);
    });
  }

  it('rejects async schemas with a ConfigError that says what to use instead', () => {
    const codec = json(z.object({ id: z.string() }).refine(async () => true));
    const error = failure(() => codec.decode({ ...at, payload: bytes('{"id":"x"}') }));
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/validate\(\) middleware/);
  });

  it('rejects a schema whose validate returns a Promise of another realm too, instead of passing undefined', () => {
    // A schema built in a vm context (or a worker's copy) returns a Promise that is not this realm's.
    const foreign = runInNewContext('({ then: undefined, p: Promise.resolve({ issues: [{ message: "bad" }] }) })').p as Promise<unknown>;
    expect(foreign instanceof Promise).toBe(false);
    const schema = { '~standard': { version: 1, vendor: 'vm', validate: () => foreign } } as unknown as StandardSchema<unknown, { id: string }>;
    const error = failure(() => json(schema).decode({ ...at, payload: bytes('{"id":"x"}') }));
    expect(isConfigError(error)).toBe(true);
  });

  it('refuses an async schema whose validation rejects without leaving an unhandled rejection (which would crash the process)', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const rejecting = { '~standard': { version: 1, vendor: 'lookup', validate: () => Promise.reject(new Error('lookup failed')) } } as unknown as StandardSchema;
      // zod answers a transform that throws by retrying asynchronously: a promise that rejects.
      const throwingTransform = z.object({ id: z.string() }).transform(() => {
        throw new RangeError('no such id');
      });
      for (const schema of [rejecting, throwingTransform]) {
        const error = failure(() => json(schema).decode({ ...at, payload: bytes('{"id":"x"}') }));
        expect(isConfigError(error)).toBe(true);
      }
      // Node reports an unhandled rejection once the microtasks have run; setImmediate comes after.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('turns a schema that throws into a DecodeError naming the message, so the message is dead-lettered, not retried', () => {
    const throwing = (value: unknown): never => {
      throw new RangeError(`no such id in ${JSON.stringify(value)}`);
    };
    const schema = { '~standard': { version: 1, vendor: 'homemade', validate: throwing } } as unknown as StandardSchema;
    const error = failure(() => json(schema).decode({ ...at, payload: bytes('{"id":"x"}') })) as DecodeError;
    expect(error.code).toBe('DECODE');
    expect(error.message).toMatch(/msg-1 on "orders.placed".*homemade schema threw.*no such id/);
    expect(error.cause).toBeInstanceOf(RangeError);
  });

  it('refuses a schema whose validate returns no result object with a ConfigError, not a TypeError', () => {
    const schema = { '~standard': { version: 1, vendor: 'homemade', validate: () => null } } as unknown as StandardSchema;
    const error = failure(() => json(schema).decode({ ...at, payload: bytes('{"id":"x"}') }));
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/homemade schema .* returned null .*Standard Schema/);
  });
});

describe('raw and text codecs', () => {
  it('pass bytes through and decode UTF-8 strictly', () => {
    const payload = Uint8Array.of(0, 1, 255);
    expect(raw().decode({ ...at, payload })).toBe(payload);
    expect(raw().encode(payload).headers).toEqual({ 'content-type': 'application/octet-stream' });
    expect(text().decode({ ...at, payload: bytes('zażółć 🚀') })).toBe('zażółć 🚀');
    expect(failure(() => text().decode({ ...at, payload: Uint8Array.of(0xc3, 0x28) })).code).toBe('DECODE');
    expect(text().decode({ ...at, payload: text().encode('\uFEFFbom kept').payload })).toBe('\uFEFFbom kept'); // a leading BOM is text too
  });
});

describe('protobuf codec', () => {
  const root = protobufjs.parse(`
    syntax = "proto3";
    package shop;
    message OrderPlaced { string order_id = 1; int64 total_cents = 2; repeated string items = 3; Status status = 4; Customer customer = 5; }
    message Customer { string id = 1; }
    enum Status { NEW = 0; PAID = 1; }
  `).root;
  const codec = protobuf<{ orderId: string; totalCents: string; items: string[]; status: string; customer: { id: string } | null }>(root.lookupType('shop.OrderPlaced'));

  it('round-trips through protobufjs and names the message type in the content type', () => {
    const out = codec.encode({ orderId: 'o-1', totalCents: '9007199254740993', items: ['a', 'b'], status: 'PAID', customer: { id: 'c-1' } });
    expect(out.headers!['content-type']).toBe('application/x-protobuf; messageType=shop.OrderPlaced');
    expect(codec.decode({ ...at, payload: out.payload })).toEqual({
      orderId: 'o-1',
      totalCents: '9007199254740993',
      items: ['a', 'b'],
      status: 'PAID',
      customer: { id: 'c-1' },
    });
  });

  it('raises DecodeError for bytes that are not the message', () => {
    const error = failure(() => codec.decode({ ...at, payload: Uint8Array.of(0x0a, 0xff, 0xff, 0xff) }));
    expect(error.code).toBe('DECODE');
    expect(error.message).toMatch(/malformed shop.OrderPlaced protobuf/);
  });

  it('raises DecodeError for a truncated message, also when the bytes come as a Node Buffer (as broker clients hand them over)', () => {
    const whole = codec.encode({ orderId: 'order-123', totalCents: '99', items: ['a'], status: 'PAID', customer: { id: 'c-1' } }).payload;
    for (const payload of [Buffer.from(whole.subarray(0, 5)), whole.subarray(0, 5)]) {
      const error = failure(() => codec.decode({ ...at, payload }));
      expect(error.code).toBe('DECODE');
      expect(error.message).toMatch(/malformed shop.OrderPlaced protobuf: index out of range/);
    }
  });

  it('refuses values that cannot become the message instead of dropping them', () => {
    const error = failure(() =>
      codec.encode({ orderId: 'o-2', totalCents: '1', items: [], status: 'NEW', customer: 'bob' as unknown as { id: string } }),
    );
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toMatch(/shop.OrderPlaced: .*customer: object expected/);
  });

  it('refuses 64-bit integers beyond the range instead of sending them wrapped around', () => {
    const order = { orderId: 'o', items: [], status: 'NEW', customer: null };
    for (const totalCents of ['9223372036854775808', '-9223372036854775809', '99999999999999999999999', 2n ** 63n]) {
      const error = failure(() => codec.encode({ ...order, totalCents } as never));
      expect(error.code).toBe('VALIDATION');
      expect(error.message).toMatch(/totalCents: 64-bit integer .* expected, got/);
    }
    const edge = codec.encode({ ...order, totalCents: '-9223372036854775808' });
    expect(codec.decode({ ...at, payload: edge.payload }).totalCents).toBe('-9223372036854775808');
  });

  it('refuses what fromObject would coerce or drop, naming every field, and takes the JSON shape as it comes', () => {
    const error = failure(() =>
      codec.encode({ orderId: 5, totalCents: '12x', items: ['a', 7], status: 'NOPE', customer: { id: 'c', age: 3 }, bogus: 1 } as never),
    );
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toContain(
      'orderId: string expected, got 5; totalCents: 64-bit integer (a number or a decimal string) expected, got "12x"; items[1]: string expected, got 7; ' +
        'status: "NOPE" is not one of NEW, PAID; customer.age: no such field; bogus: no such field',
    );
    // 64-bit integers as numbers or strings, enums as names or numbers, unset fields as null.
    const ok = codec.encode({ orderId: 'o', totalCents: 42 as unknown as string, items: [], status: 1 as unknown as string, customer: null });
    expect(codec.decode({ ...at, payload: ok.payload })).toMatchObject({ totalCents: '42', status: 'PAID', customer: null });
  });

  it('checks fields two messages deep on the very first encode too (before protobufjs has linked the nested types)', () => {
    const fresh = protobufjs.parse(`
      syntax = "proto3";
      message Order { Customer customer = 1; }
      message Customer { Address address = 1; }
      message Address { string street = 1; int32 no = 2; }
    `).root;
    const order = protobuf<{ customer: { address: Record<string, unknown> } }>(fresh.lookupType('Order'));
    const error = failure(() => order.encode({ customer: { address: { street: 'Main', no: 'abc', floor: 3 } } }));
    expect(error.code).toBe('VALIDATION');
    expect(error.message).toContain('customer.address.no: 32-bit integer expected, got "abc"; customer.address.floor: no such field');
  });
});
