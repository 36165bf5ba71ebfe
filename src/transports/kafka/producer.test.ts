import { describe, expect, it } from 'vitest';
import { javaCompatiblePartitioner } from './producer.ts';

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
