import { createRecordsBatch, type MessageRecord } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { toRecord } from './mapping.ts';
import { checkRecordSizes, KAFKA_DEFAULT_MAX_RECORD_BYTES, recordBatchSize } from './record-size.ts';
import { kafka } from './transport.ts';

const message = (over: Partial<NormalizedMessage> = {}): NormalizedMessage => ({
  id: '0190f3c2-7a4e-7c1d-9a0b-1f2e3d4c5b6a',
  key: '',
  payload: Buffer.alloc(0),
  headers: {},
  timestamp: 1_700_000_000_000,
  ...over,
});

/** What @platformatic/kafka writes for `m` sent alone: the batch the broker measures. */
const encoded = (m: NormalizedMessage): number => createRecordsBatch([toRecord('t', m) as MessageRecord], { producerId: 7n, producerEpoch: 0 }).length;

/** A message whose record batch is exactly `total` bytes, by growing its payload. */
function messageOfSize(total: number, over: Partial<NormalizedMessage>): NormalizedMessage {
  let payload = total - recordBatchSize(message(over)).total;
  while (recordBatchSize(message({ ...over, payload: Buffer.alloc(payload) })).total > total) payload--;
  const m = message({ ...over, payload: Buffer.alloc(payload) });
  expect(recordBatchSize(m).total).toBe(total);
  return m;
}

describe('recordBatchSize', () => {
  it('is exactly the size of the record batch the client encodes for the message alone', () => {
    const cases: NormalizedMessage[] = [
      message(),
      message({ key: 'k', payload: Buffer.from('hello') }),
      message({ key: 'kéy-ü-日本', headers: { a: 'ż', empty: '', '': 'no name' } }),
      message({ id: 'x'.repeat(200), payload: Buffer.alloc(63) }),
      message({ payload: Buffer.alloc(64), headers: { long: 'v'.repeat(8_192), longer: 'w'.repeat(70_000) } }),
      message({ key: 'k'.repeat(9_000), payload: Buffer.alloc(1_000_000), headers: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`h-${i}`, 'v'.repeat(i)])) }),
      message({ payload: Buffer.alloc(2 * 1024 * 1024 + 5) }),
    ];
    for (const m of cases) expect(recordBatchSize(m).total, `key ${m.key.length}, payload ${m.payload.byteLength}`).toBe(encoded(m));
  });

  it('names what the bytes are made of', () => {
    const size = recordBatchSize(message({ key: 'kéy', payload: Buffer.alloc(100), headers: { ab: 'cde' } }));
    expect(size).toMatchObject({ payload: 100, key: 4, headers: 5, idHeader: 12 + 36 });
    expect(size.framing).toBe(size.total - 100 - 4 - 5 - 48);
    expect(size.framing).toBeGreaterThanOrEqual(61);
  });
});

describe('checkRecordSizes', () => {
  it("passes a message that makes exactly the broker's default message.max.bytes, refuses one byte more", () => {
    const atLimit = messageOfSize(KAFKA_DEFAULT_MAX_RECORD_BYTES, { key: 'customer-42', headers: { trace: 't'.repeat(40_000) } });
    expect(() => checkRecordSizes('t', [atLimit], KAFKA_DEFAULT_MAX_RECORD_BYTES, 65_536)).not.toThrow();
    const over = { ...atLimit, payload: Buffer.alloc(atLimit.payload.byteLength + 1) };
    expect(() => checkRecordSizes('t', [over], KAFKA_DEFAULT_MAX_RECORD_BYTES, 65_536)).toThrow(/record batch of 1048589 bytes/);
  });

  it('measures every message its quick bound cannot clear, whatever its headers are made of', () => {
    // Many one-byte headers: the most framing a header budget can carry.
    const headers = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [i.toString(36), '']));
    const m = messageOfSize(200_000, { headers, key: '日本'.repeat(100) });
    expect(() => checkRecordSizes('t', [m], 199_999, 65_536)).toThrow(/record batch of 200000 bytes/);
    expect(() => checkRecordSizes('t', [m], 200_000, 65_536)).not.toThrow();
  });

  it('names every message too large, its size and make-up, the limit and what to raise, in one ConfigError', () => {
    const big = message({ id: 'big', key: 'k', payload: Buffer.alloc(1_000_000), headers: { trace: 'x'.repeat(60_000) } });
    let error: unknown;
    try {
      checkRecordSizes('orders', [message({ payload: Buffer.from('small') }), big, { ...big, id: 'big-2' }], KAFKA_DEFAULT_MAX_RECORD_BYTES, 65_536);
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    const text = (error as Error).message;
    expect(text).toMatch(/^2 problems:/);
    const size = recordBatchSize(big);
    expect(text).toContain(
      `kafka: publish to "orders", message 1 (id big): the message makes a record batch of ${size.total} bytes ` +
        `(payload 1000000, key 1, headers 60005, x-message-id header 15, framing ${size.framing}), over the limit of 1048588 bytes (maxRecordBytes)`,
    );
    expect(text).toContain('message 2 (id big-2)');
    expect(text).toMatch(/raise message\.max\.bytes on the brokers \(or max\.message\.bytes on the topic\) and the transport's maxRecordBytes option with them/);
  });
});

describe('kafka() maxRecordBytes', () => {
  it("defaults to the broker's default message.max.bytes, and follows a raised maxPayloadBytes", async () => {
    /** The limit named when a message of exactly `maxPayloadBytes` with 60,000 bytes of headers is published. */
    const limitOf = async (options: { maxPayloadBytes: number; maxRecordBytes?: number }): Promise<string> => {
      const t = kafka({ brokers: ['127.0.0.1:1'], ...options });
      // Refused before connecting (nothing listens on port 1): the check runs first.
      const error = await t.publish('t', { payload: Buffer.alloc(options.maxPayloadBytes), headers: { trace: 'x'.repeat(59_995) } }).then(
        () => new Error('published'),
        (e: unknown) => e as Error,
      );
      await t.close();
      return /over the limit of (\d+) bytes/.exec(error.message)?.[1] ?? error.message;
    };
    expect(await limitOf({ maxPayloadBytes: 1_000_000 })).toBe('1048588');
    expect(await limitOf({ maxPayloadBytes: 8 * 1024 * 1024 })).toBe(String(8 * 1024 * 1024 + 48_588));
    expect(await limitOf({ maxPayloadBytes: 2_000_000, maxRecordBytes: 2_010_000 })).toBe('2010000');
  });

  it('refuses a maxRecordBytes that is not a whole number, or not above maxPayloadBytes', () => {
    expect(() => kafka({ brokers: ['127.0.0.1:9092'], maxRecordBytes: 0 })).toThrow(/maxRecordBytes must be a whole number ≥ 1, got 0/);
    expect(() => kafka({ brokers: ['127.0.0.1:9092'], maxRecordBytes: 500_000 })).toThrow(/maxPayloadBytes \(1000000\) must be below maxRecordBytes \(500000\)/);
    expect(() => kafka({ brokers: ['127.0.0.1:9092'], maxRecordBytes: 500_000, maxPayloadBytes: 400_000 })).not.toThrow();
  });
});
