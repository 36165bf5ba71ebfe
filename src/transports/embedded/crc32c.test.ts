import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.ts';

describe('crc32c', () => {
  it('matches the published CRC-32C check value and the RFC 3720 vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)))).toBe(0x113fdb5c);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('gives the same result for a range, and when chained over pieces, at every length', () => {
    const bytes = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 0xff));
    for (let len = 0; len <= 40; len++) {
      const whole = crc32c(bytes.subarray(3, 3 + len));
      expect(crc32c(bytes, 3, 3 + len)).toBe(whole);
      const cut = 3 + (len >> 1);
      expect(crc32c(bytes, cut, 3 + len, crc32c(bytes, 3, cut))).toBe(whole);
    }
  });
});
