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

  it('agrees with a bit-by-bit reference at every memory alignment and length (the word-at-a-time path)', () => {
    const reference = (b: Uint8Array): number => {
      let c = 0xffffffff;
      for (const byte of b) {
        c ^= byte;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      }
      return ~c >>> 0;
    };
    const backing = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 197 + 11) & 0xff));
    for (let shift = 0; shift < 8; shift++) {
      const view = backing.subarray(shift); // a different byteOffset into the same memory each time
      for (const len of [0, 1, 7, 8, 15, 16, 17, 23, 24, 31, 64, 255, 330, 512]) {
        for (const from of [0, 1, 2, 3, 5]) expect(crc32c(view, from, from + len), `shift ${shift}, from ${from}, length ${len}`).toBe(reference(view.subarray(from, from + len)));
      }
    }
    // A second buffer in between: the cached word view must follow the bytes it is given.
    const other = Buffer.from('switchyard embedded log record');
    expect(crc32c(other)).toBe(reference(other));
    expect(crc32c(backing, 1, 200)).toBe(reference(backing.subarray(1, 200)));
  });
});
