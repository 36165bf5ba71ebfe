/**
 * A small seeded PRNG (sfc32, seeded through splitmix32) so every fuzz input can be regenerated
 * from the run's seed and its iteration number: a failure report is enough to reproduce it.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** A length in [0, max], biased towards short ones (most bugs hide near the edges). */
  length(max: number): number;
  bytes(n: number): Uint8Array;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** The generator for input number `iteration` of a run seeded with `seed` for `target`. */
export function rngFor(seed: number, target: string, iteration: number): Rng {
  let h = seed >>> 0;
  for (let i = 0; i < target.length; i++) h = Math.imul(h ^ target.charCodeAt(i), 0x01000193) >>> 0;
  const init = splitmix32((h ^ Math.imul(iteration, 0x9e3779b1)) >>> 0);
  let a = init();
  let b = init();
  let c = init();
  let d = init();
  const u32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) u32();
  const rng: Rng = {
    next: () => u32() / 2 ** 32,
    int: (n) => Math.floor(rng.next() * n),
    chance: (p) => rng.next() < p,
    pick: (items) => items[rng.int(items.length)]!,
    length: (max) => {
      const r = rng.next();
      if (r < 0.5) return rng.int(Math.min(max, 16) + 1);
      if (r < 0.85) return rng.int(Math.min(max, 512) + 1);
      return rng.int(max + 1);
    },
    bytes: (n) => {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        const r = rng.next();
        out[i] = r < 0.1 ? 0 : r < 0.2 ? 0xff : r < 0.5 ? 0x20 + rng.int(0x5f) : rng.int(256);
      }
      return out;
    },
  };
  return rng;
}

/** Interesting byte values: boundaries of signed and unsigned integers. */
const SPECIAL = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/**
 * Mutates a copy of `base` with one to four edits: flip a bit, set a byte (random or a boundary
 * value), insert random bytes, delete a range, duplicate a range, truncate, or splice in `other`.
 */
export function mutate(rng: Rng, base: Uint8Array, other?: Uint8Array): Uint8Array {
  let out: Uint8Array = Uint8Array.from(base);
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const n = out.length;
    const at = n === 0 ? 0 : rng.int(n);
    switch (rng.int(8)) {
      case 0:
        if (n > 0) out[at] = out[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        if (n > 0) out[at] = rng.chance(0.5) ? rng.int(256) : rng.pick(SPECIAL);
        break;
      case 2: {
        const insert = rng.bytes(1 + rng.int(16));
        out = concat(out.subarray(0, at), insert, out.subarray(at));
        break;
      }
      case 3:
        out = concat(out.subarray(0, at), out.subarray(Math.min(n, at + 1 + rng.int(16))));
        break;
      case 4: {
        const end = Math.min(n, at + 1 + rng.int(64));
        out = concat(out.subarray(0, end), out.subarray(at, end), out.subarray(end));
        break;
      }
      case 5:
        out = out.subarray(0, at);
        break;
      case 6:
        if (other && other.length > 0) {
          const from = rng.int(other.length);
          out = concat(out.subarray(0, at), other.subarray(from, from + 1 + rng.int(64)), out.subarray(at));
        }
        break;
      default:
        // overwrite a 4-byte run with a boundary pattern (lengths, counts)
        for (let i = 0; i < 4 && at + i < n; i++) out[at + i] = rng.pick(SPECIAL);
    }
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** Hex of the first `max` bytes, for failure reports. */
export function hex(bytes: Uint8Array, max = 256): string {
  const shown = Buffer.from(bytes.subarray(0, max)).toString('hex');
  return bytes.length > max ? `${shown}… (${bytes.length} bytes)` : `${shown} (${bytes.length} bytes)`;
}
