import { describe, expect, it } from 'vitest';
import { murmur2, partitionForKey } from './murmur2.ts';

describe('murmur2 (Kafka default partitioner)', () => {
  it("matches the Java client's Utils.murmur2 test vectors", () => {
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(murmur2(Buffer.from(key)), key).toBe(hash);
  });

  it('maps a key to toPositive(murmur2(utf8 key)) % partitions, as a Kafka producer does', () => {
    expect(partitionForKey('foobar', 10)).toBe((-790332482 & 0x7fffffff) % 10);
    expect(partitionForKey('21', 7)).toBe((-973932308 & 0x7fffffff) % 7);
    for (let i = 0; i < 100; i++) {
      const p = partitionForKey(`customer-${i}-ż`, 6);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(6);
    }
  });
});
