import { createHash, randomFillSync } from 'node:crypto';

/**
 * Message ids: UUID version 7 (RFC 9562). The first 48 bits are the millisecond timestamp, so ids
 * sort by creation time; within one millisecond a 12-bit counter keeps them increasing in this
 * process, and 62 random bits keep them unique across processes.
 */

const random = new Uint8Array(4096);
let randomOffset = random.length;
let lastMs = -1;
let counter = 0;

function randomBytes(count: number): Uint8Array {
  if (randomOffset + count > random.length) {
    randomFillSync(random);
    randomOffset = 0;
  }
  const bytes = random.subarray(randomOffset, randomOffset + count);
  randomOffset += count;
  return bytes;
}

const hex: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A new time-ordered unique id (UUIDv7 text form). */
export function newMessageId(now: number = Date.now()): string {
  let ms = now;
  if (ms > lastMs) {
    lastMs = ms;
    counter = randomBytes(1)[0]! & 0x7f; // start low so the counter rarely overflows
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      // 4,096 ids in one millisecond: borrow the next millisecond rather than repeat.
      lastMs = ++ms;
      counter = 0;
    }
  }
  return uuid7(ms, counter, randomBytes(8));
}

/** The 8-4-4-4-12 hex form of 16 bytes. */
function uuidText(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < 16; i++) {
    s += hex[b[i]!]!;
    if (i === 3 || i === 5 || i === 7 || i === 9) s += '-';
  }
  return s;
}

/** UUIDv7 text from its parts: 48-bit ms, 12-bit counter, 62 bits from `rand` (8 bytes). */
function uuid7(ms: number, counter: number, rand: Uint8Array): string {
  const b = new Uint8Array(16);
  b[0] = Math.floor(ms / 2 ** 40) & 0xff;
  b[1] = Math.floor(ms / 2 ** 32) & 0xff;
  b[2] = (ms >>> 24) & 0xff;
  b[3] = (ms >>> 16) & 0xff;
  b[4] = (ms >>> 8) & 0xff;
  b[5] = ms & 0xff;
  b[6] = 0x70 | (counter >>> 8);
  b[7] = counter & 0xff;
  b[8] = 0x80 | (rand[0]! & 0x3f);
  b.set(rand.subarray(1, 8), 9);
  return uuidText(b);
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
  if (at !== undefined) return uuid7(at, ((digest[0]! << 8) | digest[1]!) & 0xfff, digest.subarray(2, 10));
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
