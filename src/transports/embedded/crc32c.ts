/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Kafka, ext4 and iSCSI use.
 * Table-driven, slicing-by-8: eight table lookups per eight input bytes, read as two 32-bit words
 * where the platform is little-endian (two loads instead of eight).
 */

const POLY = 0x82f63b78;
/** Eight 256-entry tables back to back: table t at [t × 256, (t + 1) × 256). */
const T = new Uint32Array(256 * 8);

(function build() {
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    T[n] = c >>> 0;
  }
  for (let t = 1; t < 8; t++) {
    for (let n = 0; n < 256; n++) {
      const prev = T[(t - 1) * 256 + n]!;
      T[t * 256 + n] = (prev >>> 8) ^ T[prev & 0xff]!;
    }
  }
})();

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// A word view of the last buffer seen: records of one write share a buffer (often Node's pool),
// so the view is made once rather than once per record.
let viewed: ArrayBufferLike | undefined;
let words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** CRC-32C of `bytes[start, end)`, continuing from `crc` (pass the previous result to chain). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  let c = ~crc >>> 0;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= 16) {
    // Bytes one at a time up to a 4-byte boundary of the underlying memory, then 8 at a time as words.
    while (((bytes.byteOffset + i) & 3) !== 0) c = T[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
    if (bytes.buffer !== viewed) {
      viewed = bytes.buffer;
      words = new Uint32Array(bytes.buffer, 0, bytes.buffer.byteLength >>> 2);
    }
    const pairs = (end - i) >>> 3;
    let w = (bytes.byteOffset + i) >>> 2;
    for (const stop = w + pairs * 2; w < stop; w += 2) {
      const a = (c ^ words[w]!) >>> 0;
      const b = words[w + 1]!;
      c =
        T[1792 + (a & 0xff)]! ^
        T[1536 + ((a >>> 8) & 0xff)]! ^
        T[1280 + ((a >>> 16) & 0xff)]! ^
        T[1024 + (a >>> 24)]! ^
        T[768 + (b & 0xff)]! ^
        T[512 + ((b >>> 8) & 0xff)]! ^
        T[256 + ((b >>> 16) & 0xff)]! ^
        T[b >>> 24]!;
    }
    i += pairs * 8;
  }
  while (i < end) c = T[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
