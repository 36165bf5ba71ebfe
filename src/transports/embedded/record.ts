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
const MIN_BODY = 8 + 8 + 1 + 2 + 4 + 2 + 4;
/** Largest body a reader accepts; anything larger is a damaged length field. */
export const MAX_BODY = 256 * 1024 * 1024;

/** UTF-8 length; a JS loop beats the native call for the short strings ids, keys and headers are. */
function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s);
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s);
  return n;
}

/** Writes `s` as UTF-8 at `pos`, returning the bytes written (ASCII fast path in JS). */
function writeUtf8(buf: Buffer, s: string, pos: number): number {
  const n = s.length;
  if (n > 64) return buf.write(s, pos, 'utf8');
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return buf.write(s, pos, 'utf8');
    buf[pos + i] = c;
  }
  return n;
}

function bodySize(m: NormalizedMessage): number {
  let size = MIN_BODY + utf8Length(m.id) + utf8Length(m.key) + m.payload.length;
  for (const name in m.headers) size += 6 + utf8Length(name) + utf8Length(m.headers[name]!);
  return size;
}

/** Bytes `m` takes framed. */
export function frameSize(m: NormalizedMessage): number {
  return FRAME_HEADER + bodySize(m);
}

/**
 * Frames `messages` into one buffer, numbering them from `firstOffset`. `withCrc: false` skips
 * the checksum (the socket protocol, where TCP/Unix sockets already guarantee integrity).
 */
export function encodeRecords(messages: readonly NormalizedMessage[], firstOffset: number, withCrc = true): Buffer {
  let total = 0;
  for (const m of messages) total += frameSize(m);
  const buf = Buffer.allocUnsafe(total);
  let pos = 0;
  let offset = firstOffset;
  for (const m of messages) pos = writeRecord(buf, pos, m, offset++, withCrc);
  return buf;
}

/** Writes one frame at `pos`; returns the position after it. */
export function writeRecord(buf: Buffer, pos: number, m: NormalizedMessage, offset: number, withCrc = true): number {
  const start = pos;
  let p = pos + FRAME_HEADER;
  buf.writeDoubleLE(offset, p);
  buf.writeDoubleLE(m.timestamp, p + 8);
  buf[p + 16] = 0;
  p += 17;
  const idLen = writeUtf8(buf, m.id, p + 2);
  buf.writeUInt16LE(idLen, p);
  p += 2 + idLen;
  const keyLen = writeUtf8(buf, m.key, p + 4);
  buf.writeUInt32LE(keyLen, p);
  p += 4 + keyLen;
  const countAt = p;
  p += 2;
  let count = 0;
  for (const name in m.headers) {
    const nameLen = writeUtf8(buf, name, p + 2);
    buf.writeUInt16LE(nameLen, p);
    p += 2 + nameLen;
    const valueLen = writeUtf8(buf, m.headers[name]!, p + 4);
    buf.writeUInt32LE(valueLen, p);
    p += 4 + valueLen;
    count++;
  }
  buf.writeUInt16LE(count, countAt);
  buf.writeUInt32LE(m.payload.length, p);
  buf.set(m.payload, p + 4);
  p += 4 + m.payload.length;
  const bodyLen = p - start - FRAME_HEADER;
  buf.writeUInt32LE(bodyLen, start);
  buf.writeUInt32LE(withCrc ? crc32c(buf, start + FRAME_HEADER, p) : 0, start + 4);
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
