import type { Message as KafkaRecord } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { fromRecord, MESSAGE_ID_HEADER, text, toRecord } from './mapping.ts';

function consumed(record: ReturnType<typeof toRecord>, offset: bigint): KafkaRecord<Buffer, Buffer, Buffer, Buffer> {
  const entries = [...(record.headers as Map<Buffer, Buffer>).entries()];
  return {
    topic: record.topic,
    partition: 2,
    offset,
    key: record.key ?? (null as unknown as Buffer),
    value: record.value!,
    headers: new Map(entries),
    headerEntries: entries,
    timestamp: record.timestamp!,
    leaderEpoch: 0,
    metadata: {},
    commit: () => undefined,
    toJSON: () => ({}) as never,
  } as KafkaRecord<Buffer, Buffer, Buffer, Buffer>;
}

describe('kafka mapping', () => {
  it('round-trips id, key, payload, headers and timestamp, stripping the id header', () => {
    const record = toRecord('orders', { id: 'id-1', key: 'kéy', payload: Buffer.from('hi'), headers: { a: 'ż', empty: '' }, timestamp: 1_700_000_000_123 });
    expect(record.key?.toString()).toBe('kéy');
    const m = fromRecord(consumed(record, 41n), 3);
    expect(m).toMatchObject({ id: 'id-1', key: 'kéy', headers: { a: 'ż', empty: '' }, timestamp: 1_700_000_000_123, attempt: 3, partition: 2, offset: '41', topic: 'orders' });
    expect(Buffer.from(m.payload).toString()).toBe('hi');
    expect(Object.keys(m.headers)).not.toContain(MESSAGE_ID_HEADER);
  });

  it("sends an empty key as a null key and reads it back as ''", () => {
    const record = toRecord('t', { id: 'x', key: '', payload: new Uint8Array(0), headers: {}, timestamp: 1 });
    expect(record.key).toBeUndefined();
    const m = fromRecord(consumed(record, 0n), 1);
    expect(m.key).toBe('');
    expect(m.payload.byteLength).toBe(0);
  });

  it('gives records from other producers a stable id from topic/partition/offset', () => {
    const record = consumed({ topic: 't', value: Buffer.from('v'), headers: new Map(), timestamp: 5n }, 9n);
    expect(fromRecord(record, 1).id).toBe('t/2/9');
  });

  it('sends a Buffer payload as is and wraps any other Uint8Array without copying', () => {
    const buffer = Buffer.from('abc');
    expect(toRecord('t', { id: 'x', key: '', payload: buffer, headers: {}, timestamp: 1 }).value).toBe(buffer);
    const bytes = new Uint8Array([1, 2, 3, 4]).subarray(1, 3);
    const value = toRecord('t', { id: 'x', key: '', payload: bytes, headers: {}, timestamp: 1 }).value!;
    expect(Buffer.isBuffer(value)).toBe(true);
    expect(value.buffer).toBe(bytes.buffer);
    expect([...value]).toEqual([2, 3]);
  });

  it('strips only the exact id header and uses a key the caller already decoded', () => {
    // Same length as x-message-id, one byte different: an ordinary header.
    const record = toRecord('t', { id: 'id-9', key: 'k', payload: new Uint8Array(0), headers: { 'x-message-ie': 'kept' }, timestamp: 1 });
    const m = fromRecord(consumed(record, 0n), 1, 'decoded');
    expect(m.id).toBe('id-9');
    expect(m.headers).toEqual({ 'x-message-ie': 'kept' });
    expect(m.key).toBe('decoded');
  });

  it('round-trips headers named like Object.prototype members as own properties of a plain object', () => {
    // JSON.parse makes `__proto__` an own property, as a caller's parsed headers would have it.
    const headers = JSON.parse('{"constructor":"c","toString":"t","hasOwnProperty":"h","__proto__":"p","plain":"x"}') as Record<string, string>;
    const m = fromRecord(consumed(toRecord('t', { id: 'x', key: '', payload: new Uint8Array(0), headers, timestamp: 1 }), 0n), 1);
    expect(Object.keys(m.headers)).toEqual(['constructor', 'toString', 'hasOwnProperty', '__proto__', 'plain']);
    expect(Object.getOwnPropertyDescriptor(m.headers, '__proto__')?.value).toBe('p');
    expect(m.headers['constructor']).toBe('c');
    expect(Object.getPrototypeOf(m.headers)).toBe(Object.prototype);
  });

  it('decodes keys and headers as UTF-8, short or long, ASCII or not', () => {
    for (const value of ['', 'k7', 'order-123456', 'order-1234567', 'ключ', 'naïve', '注文-1', 'a'.repeat(40), 'ü'.repeat(30), '🙂x']) {
      expect(text(Buffer.from(value))).toBe(value);
    }
    expect(text(null)).toBe('');
    expect(text(undefined)).toBe('');
    // Malformed UTF-8 decodes as Node's decoder does (replacement characters), short or long.
    expect(text(Buffer.from([0x6b, 0xff]))).toBe(Buffer.from([0x6b, 0xff]).toString());
  });
});
