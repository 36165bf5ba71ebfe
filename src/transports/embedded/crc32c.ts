/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Kafka, ext4 and iSCSI use.
 * Table-driven, slicing-by-16: sixteen table lookups per sixteen input bytes, read as four 32-bit
 * words where the platform is little-endian (four loads instead of sixteen). Tables and words are
 * Int32Arrays so every value stays a small integer in V8 (a Uint32Array's values above 2^31 are
 * doubles).
 */

const POLY = 0x82f63b78;
/** Sixteen 256-entry tables back to back: table t at [t × 256, (t + 1) × 256). */
const T = new Int32Array(256 * 16);

(function build() {
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    T[n] = c;
  }
  for (let t = 1; t < 16; t++) {
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
let words: Int32Array<ArrayBufferLike> = new Int32Array(0);

/** CRC-32C of `bytes[start, end)`, continuing from `crc` (pass the previous result to chain). */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length, crc = 0): number {
  let c = ~crc;
  let i = start;
  if (LITTLE_ENDIAN && end - start >= 32) {
    // Bytes one at a time up to a 4-byte boundary of the underlying memory, then 16 at a time as words.
    while (((bytes.byteOffset + i) & 3) !== 0) c = T[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
    if (bytes.buffer !== viewed) {
      viewed = bytes.buffer;
      words = new Int32Array(bytes.buffer, 0, bytes.buffer.byteLength >>> 2);
    }
    const blocks = (end - i) >>> 4;
    let w = (bytes.byteOffset + i) >>> 2;
    for (const stop = w + blocks * 4; w < stop; w += 4) {
      const a = c ^ words[w]!;
      const b = words[w + 1]!;
      const d = words[w + 2]!;
      const e = words[w + 3]!;
      c =
        T[3840 + (a & 0xff)]! ^
        T[3584 + ((a >>> 8) & 0xff)]! ^
        T[3328 + ((a >>> 16) & 0xff)]! ^
        T[3072 + (a >>> 24)]! ^
        T[2816 + (b & 0xff)]! ^
        T[2560 + ((b >>> 8) & 0xff)]! ^
        T[2304 + ((b >>> 16) & 0xff)]! ^
        T[2048 + (b >>> 24)]! ^
        T[1792 + (d & 0xff)]! ^
        T[1536 + ((d >>> 8) & 0xff)]! ^
        T[1280 + ((d >>> 16) & 0xff)]! ^
        T[1024 + (d >>> 24)]! ^
        T[768 + (e & 0xff)]! ^
        T[512 + ((e >>> 8) & 0xff)]! ^
        T[256 + ((e >>> 16) & 0xff)]! ^
        T[e >>> 24]!;
    }
    // Then what is left in whole words, one at a time (a record's tail is up to 15 bytes).
    for (const stop = w + ((end - i - blocks * 16) >>> 2); w < stop; w++) {
      const a = c ^ words[w]!;
      c = T[768 + (a & 0xff)]! ^ T[512 + ((a >>> 8) & 0xff)]! ^ T[256 + ((a >>> 16) & 0xff)]! ^ T[a >>> 24]!;
    }
    i = w * 4 - bytes.byteOffset;
  }
  while (i < end) c = T[(c ^ bytes[i++]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
