import { ConfigError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { crc32c } from './crc32c.ts';

/**
 * Record framing, shared by segment files and the socket protocol. All integers little-endian:
 *
 * ```
 * frame   = bodyLength:u32  crc32c(body):u32  body
 * body    = offset:f64  timestamp:f64  attributes:u8
 *           idLength:u16  id  keyLength:u32  key
 *           headerCount:u16  { nameLength:u16 name  valueLength:u32 value }*
 *           payloadLength:u32  payload
 * ```
 * Offsets and timestamps are whole numbers stored as f64 (exact below 2^53). Strings are UTF-8.
 */

/** A record as read back from the log. */
export interface StoredRecord {
  offset: number;
  timestamp: number;
  id: string;
  key: string;
  headers: Record<string, string>;
  payload: Uint8Array;
}

/** Bytes before the body: length and CRC. */
export const FRAME_HEADER = 8;
/** Smallest possible body: offset, timestamp, attributes, id/key/header/payload lengths. */
export const MIN_BODY = 8 + 8 + 1 + 2 + 4 + 2 + 4;
/** Largest body a reader accepts; anything larger is a damaged length field. */
export const MAX_BODY = 256 * 1024 * 1024;

/**
 * Writes `s` as UTF-8 at `pos`, returning the bytes written. Short ASCII strings (keys, header
 * names) are copied in JS, which beats the native call below ~16 characters; longer ones (ids) not.
 */
function writeUtf8(buf: Buffer, s: string, pos: number): number {
  const n = s.length;
  if (n > 16) return buf.write(s, pos);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return buf.write(s, pos, 'utf8');
    buf[pos + i] = c;
  }
  return n;
}

/** Largest id or header name, and most headers per record: their lengths and count are u16 fields. */
export const MAX_U16 = 0xffff;
/**
 * Strings up to this many UTF-16 units fit a u16 length whatever they hold (a unit is at most 3
 * UTF-8 bytes), so only longer ones need their bytes counted.
 */
const U16_SAFE_UNITS = Math.floor(MAX_U16 / 3);

/**
 * Most bytes `encodeRecords` needs for `messages`, from string lengths alone (a UTF-16 unit is at
 * most 3 UTF-8 bytes): sizing a batch this way writes each string once instead of measuring it
 * first. Also checks that every message fits the record format — an id or header name of at most
 * 65,535 bytes, at most 65,535 headers, a body of at most `MAX_BODY` — and throws a ConfigError
 * naming each message that does not. The check costs two comparisons per message: bytes are only
 * counted for strings long enough to be in doubt.
 *
 * Call it before reserving offsets, so a publish the log cannot hold takes nothing from the log.
 */
export function framesBound(messages: readonly NormalizedMessage[]): number {
  let bound = 0;
  let doubtful = false;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i]!;
    let size = FRAME_HEADER + MIN_BODY + 3 * (m.id.length + m.key.length) + m.payload.length;
    let longest = m.id.length;
    let count = 0;
    for (const name in m.headers) {
      size += 6 + 3 * (name.length + m.headers[name]!.length);
      if (name.length > longest) longest = name.length;
      count++;
    }
    if (longest > U16_SAFE_UNITS || count > MAX_U16 || size > FRAME_HEADER + MAX_BODY) doubtful = true;
    bound += size;
  }
  if (doubtful) ConfigError.throwIfAny(frameProblems(messages));
  return bound;
}

/** What keeps each of `messages` out of the record format (exact byte counts; the slow path of `framesBound`). */
export function frameProblems(messages: readonly NormalizedMessage[]): string[] {
  const problems: string[] = [];
  for (const m of messages) {
    const which = `message ${quote(m.id)}`;
    const idBytes = Buffer.byteLength(m.id);
    if (idBytes > MAX_U16) problems.push(`${which}: its id is ${idBytes} bytes (UTF-8); the embedded broker stores ids of at most ${MAX_U16} bytes. Use a shorter id.`);
    let count = 0;
    let body = MIN_BODY + idBytes + Buffer.byteLength(m.key) + m.payload.length;
    for (const name in m.headers) {
      count++;
      const nameBytes = Buffer.byteLength(name);
      body += 6 + nameBytes + Buffer.byteLength(m.headers[name]!);
      if (nameBytes > MAX_U16) {
        problems.push(`${which}: header name ${quote(name)} is ${nameBytes} bytes (UTF-8); the embedded broker stores header names of at most ${MAX_U16} bytes. Use a shorter name.`);
      }
    }
    if (count > MAX_U16) problems.push(`${which}: it has ${count} headers; the embedded broker stores at most ${MAX_U16} per message. Move some into the payload.`);
    if (body > MAX_BODY) {
      problems.push(`${which}: its key, headers and payload take ${body} bytes; the embedded broker stores records of at most ${MAX_BODY} bytes. Make them smaller.`);
    }
  }
  return problems;
}

/** `s` quoted for an error message, cut short if long (an oversized id is the problem being reported). */
function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

/** Batches this large get memory of their own, recycled once written; smaller ones use Node's pool. */
const RECYCLE_MIN = 64 * 1024;
/** Most bytes of written batches kept for framing later ones. */
const SPARE_BYTES = 16 * 1024 * 1024;
/** Memory `frameBuffer` allocated: the only memory ever recycled (never a pool others share). */
const ownMemory = new WeakSet<ArrayBufferLike>();
const spares: ArrayBufferLike[] = [];
let spareBytes = 0;

function frameBuffer(bound: number): Buffer {
  if (bound < RECYCLE_MIN) return Buffer.allocUnsafe(bound);
  for (let i = spares.length - 1; i >= 0; i--) {
    const spare = spares[i]!;
    if (spare.byteLength >= bound && spare.byteLength <= 4 * bound) {
      spares.splice(i, 1);
      spareBytes -= spare.byteLength;
      return Buffer.from(spare, 0, bound);
    }
  }
  const buf = Buffer.allocUnsafeSlow(bound);
  ownMemory.add(buf.buffer);
  return buf;
}

/**
 * Takes back the memory of `frames` (from `encodeRecords`) once nothing reads them any more, e.g.
 * written to disk: later batches are framed into it. Fresh memory is faulted in by the OS page by
 * page, which costs about a quarter of the time of framing 4 KiB records.
 */
export function recycleFrames(frames: Buffer): void {
  const memory = frames.buffer;
  if (!ownMemory.has(memory) || spareBytes + memory.byteLength > SPARE_BYTES || spares.includes(memory)) return;
  spares.push(memory);
  spareBytes += memory.byteLength;
}

/**
 * Frames `messages` into one buffer, numbering them from `firstOffset`. `withCrc: false` skips
 * the checksum (the socket protocol, where TCP/Unix sockets already guarantee integrity).
 * `bound` is `framesBound(messages)` when the caller has it already. A message the format cannot
 * hold is a ConfigError (from `framesBound`), thrown before anything is written.
 */
export function encodeRecords(messages: readonly NormalizedMessage[], firstOffset: number, withCrc = true, bound = framesBound(messages)): Buffer {
  const buf = frameBuffer(bound);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  for (let i = 0; i < messages.length; i++) pos = writeRecord(buf, view, pos, messages[i]!, firstOffset + i, withCrc);
  return pos === bound ? buf : buf.subarray(0, pos);
}

function writeU16(buf: Buffer, value: number, pos: number): void {
  if (value > MAX_U16) buf.writeUInt16LE(value, pos); // framesBound rejects this first; a last guard against a corrupt frame
  buf[pos] = value;
  buf[pos + 1] = value >>> 8;
}

function writeU32(buf: Buffer, value: number, pos: number): void {
  buf[pos] = value;
  buf[pos + 1] = value >>> 8;
  buf[pos + 2] = value >>> 16;
  buf[pos + 3] = value >>> 24;
}

/**
 * Writes one frame at `pos` (with room for its share of `framesBound`); returns the position after it.
 * `view` is a DataView of `buf`, whose float writes the JIT inlines.
 */
function writeRecord(buf: Buffer, view: DataView, pos: number, m: NormalizedMessage, offset: number, withCrc: boolean): number {
  const start = pos;
  let p = pos + FRAME_HEADER;
  view.setFloat64(p, offset, true);
  view.setFloat64(p + 8, m.timestamp, true);
  buf[p + 16] = 0;
  p += 17;
  const idLen = writeUtf8(buf, m.id, p + 2);
  writeU16(buf, idLen, p);
  p += 2 + idLen;
  const keyLen = writeUtf8(buf, m.key, p + 4);
  writeU32(buf, keyLen, p);
  p += 4 + keyLen;
  const countAt = p;
  p += 2;
  let count = 0;
  for (const name in m.headers) {
    const nameLen = writeUtf8(buf, name, p + 2);
    writeU16(buf, nameLen, p);
    p += 2 + nameLen;
    const valueLen = writeUtf8(buf, m.headers[name]!, p + 4);
    writeU32(buf, valueLen, p);
    p += 4 + valueLen;
    count++;
  }
  writeU16(buf, count, countAt);
  const payload = m.payload;
  writeU32(buf, payload.length, p);
  buf.set(payload, p + 4);
  p += 4 + payload.length;
  writeU32(buf, p - start - FRAME_HEADER, start);
  writeU32(buf, withCrc ? crc32c(buf, start + FRAME_HEADER, p) : 0, start + 4);
  return p;
}

/** What `checkFrame` found at a position. */
export type FrameCheck =
  | { ok: true; end: number }
  | { ok: false; reason: 'truncated' | 'bad-length' | 'crc-mismatch' | 'bad-body'; detail: string };

/** Checks the frame at `pos` (within `buf[pos, limit)`): complete, sane length, matching CRC. */
export function checkFrame(buf: Buffer, pos: number, limit: number, verifyCrc = true): FrameCheck {
  if (limit - pos < FRAME_HEADER) return { ok: false, reason: 'truncated', detail: `${limit - pos} bytes where a frame header needs ${FRAME_HEADER}` };
  const bodyLen = buf.readUInt32LE(pos);
  if (bodyLen < MIN_BODY || bodyLen > MAX_BODY) return { ok: false, reason: 'bad-length', detail: `frame length ${bodyLen} is impossible` };
  const end = pos + FRAME_HEADER + bodyLen;
  if (end > limit) return { ok: false, reason: 'truncated', detail: `frame of ${bodyLen} bytes but only ${limit - pos - FRAME_HEADER} remain` };
  if (verifyCrc) {
    const want = buf.readUInt32LE(pos + 4);
    const got = crc32c(buf, pos + FRAME_HEADER, end);
    if (want !== got) return { ok: false, reason: 'crc-mismatch', detail: `CRC32C ${got.toString(16)} does not match stored ${want.toString(16)}` };
  }
  return { ok: true, end };
}

/** Offset of the (already checked) frame at `pos`. */
export function frameOffset(buf: Buffer, pos: number): number {
  return buf.readDoubleLE(pos + FRAME_HEADER);
}

/** Timestamp of the (already checked) frame at `pos`. */
export function frameTimestamp(buf: Buffer, pos: number): number {
  return buf.readDoubleLE(pos + FRAME_HEADER + 8);
}

/**
 * Decodes the checked frame at `pos`. The payload is a view into `buf` (no copy): callers hand
 * out buffers they never reuse. Throws RangeError when the body's inner lengths are inconsistent.
 */
export function decodeRecord(buf: Buffer, pos: number): StoredRecord {
  const end = pos + FRAME_HEADER + buf.readUInt32LE(pos);
  let p = pos + FRAME_HEADER;
  const offset = buf.readDoubleLE(p);
  const timestamp = buf.readDoubleLE(p + 8);
  p += 17;
  const idLen = buf.readUInt16LE(p);
  p += 2;
  const id = buf.toString('utf8', p, p + idLen);
  p += idLen;
  const keyLen = buf.readUInt32LE(p);
  p += 4;
  const key = keyLen === 0 ? '' : buf.toString('utf8', p, p + keyLen);
  p += keyLen;
  const count = buf.readUInt16LE(p);
  p += 2;
  const headers: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const nameLen = buf.readUInt16LE(p);
    p += 2;
    const name = buf.toString('utf8', p, p + nameLen);
    p += nameLen;
    const valueLen = buf.readUInt32LE(p);
    p += 4;
    headers[name] = buf.toString('utf8', p, p + valueLen);
    p += valueLen;
  }
  const payloadLen = buf.readUInt32LE(p);
  p += 4;
  if (p + payloadLen !== end) throw new RangeError(`record body lengths add up to ${p + payloadLen - pos} bytes, frame says ${end - pos}`);
  const payload = buf.subarray(p, p + payloadLen);
  return { offset, timestamp, id, key, headers, payload };
}
