import { createHash, randomFillSync } from 'node:crypto';

/**
 * Message ids: UUID version 7 (RFC 9562). The first 48 bits are the millisecond timestamp, so ids
 * sort by creation time; within one millisecond a 12-bit counter keeps them increasing in this
 * process, and 62 random bits keep them unique across processes.
 */

// Random bytes are drawn in bulk: one randomFillSync call serves 2,048 ids.
const random = new Uint8Array(16 * 1024);
let randomOffset = random.length;
let lastMs = -1;
let counter = 0;

/** Takes `count` fresh random bytes from the pool (refilled when used up): where they start in `random`. */
function takeRandom(count: number): number {
  if (randomOffset + count > random.length) {
    randomFillSync(random);
    randomOffset = 0;
  }
  const at = randomOffset;
  randomOffset += count;
  return at;
}

/** Character codes of the hex digits 0–f. */
const HEX_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
const DASH = 0x2d;
const SEVEN = 0x37;

/** A new time-ordered unique id (UUIDv7 text form). */
export function newMessageId(now: number = Date.now()): string {
  let ms = now;
  if (ms > lastMs) {
    lastMs = ms;
    counter = random[takeRandom(1)]! & 0x7f; // start low so the counter rarely overflows
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // 4,096 ids in one millisecond: borrow the next millisecond rather than repeat.
      lastMs = ++ms;
      counter = 0;
    }
  }
  return uuid7(ms, counter, random, takeRandom(8));
}

/** The 8-4-4-4-12 hex form of 16 bytes. */
function uuidText(b: Uint8Array): string {
  const codes: number[] = [];
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) codes.push(DASH);
    codes.push(HEX_CODES[b[i]! >>> 4]!, HEX_CODES[b[i]! & 15]!);
  }
  return String.fromCharCode(...codes);
}

/** Hex digit codes of the millisecond last formatted: ids of one millisecond share them. */
const msCodes = new Uint8Array(12);
let msCodesOf = -1;

/**
 * UUIDv7 text from its parts: 48-bit ms, 12-bit counter, 62 bits from `rand[at, at + 8)`. Built by
 * one String.fromCharCode call: a flat string, with no byte array or concatenation per id (a
 * concatenated string is a rope, slow to read back character by character when it is written).
 */
function uuid7(ms: number, counter: number, rand: Uint8Array, at: number): string {
  if (ms !== msCodesOf) {
    msCodesOf = ms;
    for (let i = 11, v = ms; i >= 0; i--, v = Math.floor(v / 16)) msCodes[i] = HEX_CODES[v % 16]!;
  }
  const t = msCodes;
  const h = HEX_CODES;
  const variant = 0x80 | (rand[at]! & 0x3f);
  const r1 = rand[at + 1]!;
  const r2 = rand[at + 2]!;
  const r3 = rand[at + 3]!;
  const r4 = rand[at + 4]!;
  const r5 = rand[at + 5]!;
  const r6 = rand[at + 6]!;
  const r7 = rand[at + 7]!;
  // prettier-ignore
  return String.fromCharCode(
    t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!, t[6]!, t[7]!, DASH, t[8]!, t[9]!, t[10]!, t[11]!, DASH,
    SEVEN, h[counter >>> 8]!, h[(counter >>> 4) & 15]!, h[counter & 15]!, DASH,
    h[variant >>> 4]!, h[variant & 15]!, h[r1 >>> 4]!, h[r1 & 15]!, DASH,
    h[r2 >>> 4]!, h[r2 & 15]!, h[r3 >>> 4]!, h[r3 & 15]!, h[r4 >>> 4]!, h[r4 & 15]!,
    h[r5 >>> 4]!, h[r5 & 15]!, h[r6 >>> 4]!, h[r6 & 15]!, h[r7 >>> 4]!, h[r7 & 15]!,
  );
}

/**
 * The id of the `index`-th message published while handling message `parentId` in `scope` (a
 * handler name): the same inputs give the same id. A handler that runs again after a crash —
 * between its publish and its acknowledgement — re-publishes under the ids it used the first
 * time, so consumers that deduplicate by id see a repeat, not a new message. For a UUIDv7 parent
 * it is a UUIDv7 carrying the parent's time (ids still sort roughly by creation); for any other
 * parent id a UUIDv8 (RFC 9562's custom version). The other bits are a SHA-256 of the inputs.
 *
 * @example
 * ```ts
 * derivedMessageId(msg.id, 'billing', 0) === derivedMessageId(msg.id, 'billing', 0); // true
 * ```
 */
export function derivedMessageId(parentId: string, scope: string, index: number): string {
  const digest = createHash('sha256').update(`${parentId}\u0000${scope}\u0000${index}`).digest();
  const at = messageIdTime(parentId);
  if (at !== undefined) return uuid7(at, ((digest[0]! << 8) | digest[1]!) & 0xfff, digest, 2);
  const b = digest.subarray(0, 16);
  b[6] = 0x80 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  return uuidText(b);
}

/** The creation time (ms since epoch) encoded in a UUIDv7 id, or undefined for other ids. */
export function messageIdTime(id: string): number | undefined {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return undefined;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
