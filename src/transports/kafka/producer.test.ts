import type { MessageToProduce } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { javaCompatiblePartitioner, splitRecords } from './producer.ts';

describe('javaCompatiblePartitioner', () => {
  it("picks toPositive(murmur2(key)) like the Java client (vectors from Java's Utils.murmur2 tests)", () => {
    const partition = javaCompatiblePartitioner();
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) {
      expect(partition({ topic: 't' }, Buffer.from(key)), key).toBe(hash & 0x7fffffff);
      // The client takes the result modulo the partition count: the same as Java's.
      expect(partition({ topic: 't' }, Buffer.from(key)) % 6).toBe((hash & 0x7fffffff) % 6);
    }
  });

  it('spreads records without a key round-robin', () => {
    const partition = javaCompatiblePartitioner();
    const picks = Array.from({ length: 6 }, () => partition({ topic: 't' }, undefined) % 3);
    expect(picks).toEqual([0, 1, 2, 0, 1, 2]);
  });
});

describe('splitRecords', () => {
  const record = (n: number, bytes: number): MessageToProduce<Buffer, Buffer, Buffer, Buffer> => ({ topic: 't', key: Buffer.from(String(n)), value: Buffer.alloc(bytes) });
  const numbers = (parts: Array<Array<MessageToProduce<Buffer, Buffer, Buffer, Buffer>>>): number[][] => parts.map((p) => p.map((r) => Number(r.key!.toString())));

  it('cuts a publish into consecutive parts within the byte bound, in order', () => {
    // 32 bytes of overhead + 1 key byte + 67 payload bytes = 100 bytes each.
    const records = Array.from({ length: 10 }, (_, i) => record(i, 67));
    expect(numbers(splitRecords(records, 300, 10_000))).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]);
    expect(numbers(splitRecords(records, 1_000, 10_000))).toEqual([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]]);
  });

  it('cuts at the message bound too', () => {
    const records = Array.from({ length: 5 }, (_, i) => record(i, 1));
    expect(numbers(splitRecords(records, 1_000_000, 2))).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('puts a record larger than the bound in a part of its own, between its neighbours', () => {
    const records = [record(0, 67), record(1, 500), record(2, 67), record(3, 67)];
    expect(numbers(splitRecords(records, 300, 10_000))).toEqual([[0], [1], [2, 3]]);
  });
});
