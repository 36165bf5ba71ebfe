import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from './crc32c.ts';
import { CorruptLogError } from './errors.ts';
import { checkFrame, decodeRecord, FRAME_HEADER, frameOffset, frameTimestamp, MAX_BODY, MIN_BODY, type FrameCheck, type StoredRecord } from './record.ts';
import { TailCache } from './tail-cache.ts';

/** Bytes between two sparse index entries. */
export const INDEX_INTERVAL = 4096;
const SCAN_CHUNK = 4 * 1024 * 1024;

/** `00000000000000001234.log`: the base offset, zero-padded so names sort in offset order. */
export function segmentName(base: number, ext: 'log' | 'index'): string {
  return `${String(base).padStart(20, '0')}.${ext}`;
}

/** Where a scan stopped early, and why. */
export interface ScanFailure {
  position: number;
  reason: string;
  detail: string;
  /** The whole rest of the file is zero bytes (a pre-extended or never-written tail). */
  zeroTail: boolean;
  /** The failing frame is complete and ends exactly at the end of the file. */
  lastFrame: boolean;
  /** Bytes in the file when it was scanned. */
  fileSize: number;
}

/** A segment's state at one moment (see `Segment.mark`). */
export interface SegmentMark {
  readonly size: number;
  readonly nextOffset: number;
  readonly maxTimestamp: number;
  readonly indexLength: number;
  readonly lastIndexed: number;
}

/**
 * One segment file of a partition: records with offsets from `base`, appended at the end, and
 * its sparse offset index (one entry every INDEX_INTERVAL bytes, kept in memory and written to
 * `<base>.index` when the segment is closed for writes).
 */
export class Segment {
  readonly base: number;
  readonly dir: string;
  fd: number;
  /** Bytes written. */
  size = 0;
  /** Bytes readers may see (synced, or written when fsync is 'never'). */
  visibleSize = 0;
  /** Offset after the last record written. */
  nextOffset: number;
  /** Offset after the last visible record. */
  visibleNextOffset: number;
  /** Newest record timestamp (0 when empty). */
  maxTimestamp = 0;
  /** Sparse index: [offset, position] pairs. */
  readonly index: number[] = [];
  #lastIndexed = -Infinity;
  /** The newest frames appended, for readers right behind the writer. */
  readonly #tail = new TailCache();

  constructor(dir: string, base: number, fd: number) {
    this.dir = dir;
    this.base = base;
    this.fd = fd;
    this.nextOffset = base;
    this.visibleNextOffset = base;
  }

  get logPath(): string {
    return join(this.dir, segmentName(this.base, 'log'));
  }

  get indexPath(): string {
    return join(this.dir, segmentName(this.base, 'index'));
  }

  static create(dir: string, base: number): Segment {
    const fd = openSync(join(dir, segmentName(base, 'log')), 'a+', 0o600);
    return new Segment(dir, base, fd);
  }

  static open(dir: string, base: number): Segment {
    const fd = openSync(join(dir, segmentName(base, 'log')), 'r+');
    return new Segment(dir, base, fd);
  }

  #noteFrame(offset: number, position: number, timestamp: number): void {
    if (position - this.#lastIndexed >= INDEX_INTERVAL) {
      this.index.push(offset, position);
      this.#lastIndexed = position;
    }
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }

  /**
   * Reads the file from `from` (a frame boundary; 0 for a full scan), checking every frame
   * (CRC when `verify`), rebuilding the index and the next offset. Stops at the first bad frame.
   */
  scan(verify: boolean, from = 0): ScanFailure | undefined {
    const fileSize = fstatSync(this.fd).size;
    let pos = from;
    let chunk = Buffer.alloc(0);
    let chunkStart = 0;
    while (pos < fileSize) {
      if (pos + FRAME_HEADER > chunkStart + chunk.length || pos + FRAME_HEADER + chunk.readUInt32LE(pos - chunkStart) > chunkStart + chunk.length) {
        // Refill so the frame at `pos` is complete in memory (when the file has it). Its length is
        // known only once its header is read: the frame is read whole after it when it is longer
        // than the chunk. Sizing the chunk by a header already in memory alone made a frame over
        // SCAN_CHUNK whose header was not (the first of a segment) look cut short: a torn tail,
        // in the active segment — a resolved publish of a 5 MiB message cut off on the next open.
        const next = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, fileSize - pos));
        chunk = next.subarray(0, readFully(this.fd, next, pos));
        chunkStart = pos;
        const length = chunk.length >= FRAME_HEADER ? chunk.readUInt32LE(0) : 0;
        // An impossible length is reported by checkFrame: nothing to read for it.
        const whole = length <= MAX_BODY ? Math.min(fileSize - pos, FRAME_HEADER + length) : 0;
        if (whole > chunk.length) {
          const frame = Buffer.allocUnsafe(whole);
          chunk.copy(frame);
          chunk = frame.subarray(0, chunk.length + readFully(this.fd, frame.subarray(chunk.length), pos + chunk.length));
        }
      }
      const at = pos - chunkStart;
      const check: FrameCheck = checkFrame(chunk, at, chunk.length, verify);
      let failure: FrameCheck | undefined = check.ok ? undefined : check;
      if (check.ok) {
        const offset = frameOffset(chunk, at);
        // A CRC only says the bytes are the ones written; an offset that is not a whole number
        // (found by the fuzzer: 2.5, 2^60, NaN) would make every later offset wrong.
        if (!Number.isSafeInteger(offset)) failure = { ok: false, reason: 'bad-body', detail: `offset ${offset} is not a whole number` };
        else if (offset < this.nextOffset) failure = { ok: false, reason: 'bad-body', detail: `offset ${offset} goes backwards (expected ≥ ${this.nextOffset})` };
      }
      if (check.ok && !failure && verify) {
        try {
          decodeRecord(chunk, at);
        } catch (e) {
          failure = { ok: false, reason: 'bad-body', detail: (e as Error).message };
        }
      }
      if (failure && !failure.ok) {
        return {
          position: pos,
          reason: failure.reason,
          detail: failure.detail,
          zeroTail: isZeroTail(this.fd, pos, fileSize),
          lastFrame: failure.reason === 'crc-mismatch' && pos + FRAME_HEADER + chunk.readUInt32LE(at) === fileSize,
          fileSize,
        };
      }
      const end = (check as { end: number }).end - at + pos;
      const offset = frameOffset(chunk, at);
      this.#noteFrame(offset, pos, frameTimestamp(chunk, at));
      this.nextOffset = offset + 1;
      pos = end;
    }
    this.size = pos;
    this.visibleSize = pos;
    this.visibleNextOffset = this.nextOffset;
    return undefined;
  }

  /** Loads `<base>.index` if it is present and plausible, then scans only past its last entry. */
  loadIndex(): boolean {
    if (!existsSync(this.indexPath)) return false;
    const bytes = readFileSync(this.indexPath);
    if (bytes.length % 16 !== 0 || bytes.length === 0) return false;
    const fileSize = fstatSync(this.fd).size;
    const entries: number[] = [];
    for (let p = 0; p < bytes.length; p += 16) entries.push(bytes.readDoubleLE(p), bytes.readDoubleLE(p + 8));
    const lastPos = entries[entries.length - 1]!;
    if (lastPos >= fileSize || entries[1] !== 0) return false;
    // Index entries before the last are trusted; the last is re-read to find the end.
    for (let i = 0; i < entries.length - 2; i += 2) this.index.push(entries[i]!, entries[i + 1]!);
    this.#lastIndexed = entries.length >= 4 ? entries[entries.length - 3]! : -Infinity;
    this.nextOffset = entries[entries.length - 2]!;
    return this.scan(false, lastPos) === undefined;
  }

  /**
   * The first intact frame starting at or after byte `from`: complete, its CRC matching, its
   * offset a whole number of at least `minOffset`. Tells a damaged length field (intact records
   * follow it) from a write cut short (nothing intact follows). Every byte position is tried, but
   * the CRC is computed only where the length and offset fields are plausible, so random bytes
   * cost a few comparisons each.
   */
  findFrame(from: number, minOffset: number): { position: number; offset: number } | undefined {
    const fileSize = fstatSync(this.fd).size;
    // Offsets grow by at least one per frame, so a frame here cannot be numbered beyond this.
    const maxOffset = minOffset + Math.ceil((fileSize - from) / (FRAME_HEADER + MIN_BODY));
    const last = fileSize - FRAME_HEADER - MIN_BODY; // the last position a whole frame fits after
    let chunk = Buffer.alloc(0);
    let chunkStart = from;
    for (let pos = from; pos <= last; pos++) {
      if (pos + FRAME_HEADER + 8 > chunkStart + chunk.length) {
        chunk = Buffer.allocUnsafe(Math.min(SCAN_CHUNK, fileSize - pos));
        chunk = chunk.subarray(0, readFully(this.fd, chunk, pos));
        chunkStart = pos;
        if (chunk.length < FRAME_HEADER + 8) return undefined;
      }
      const at = pos - chunkStart;
      const bodyLen = chunk.readUInt32LE(at);
      if (bodyLen < MIN_BODY || bodyLen > MAX_BODY || pos + FRAME_HEADER + bodyLen > fileSize) continue;
      const offset = chunk.readDoubleLE(at + FRAME_HEADER);
      if (!(offset >= minOffset && offset <= maxOffset && Number.isInteger(offset))) continue;
      let frame = chunk;
      let start = at;
      if (at + FRAME_HEADER + bodyLen > chunk.length) {
        frame = Buffer.allocUnsafe(FRAME_HEADER + bodyLen);
        readFully(this.fd, frame, pos);
        start = 0;
      }
      if (frame.readUInt32LE(start + 4) === crc32c(frame, start + FRAME_HEADER, start + FRAME_HEADER + bodyLen)) return { position: pos, offset };
    }
    return undefined;
  }

  /** Writes the index file (when the segment stops taking writes, and on close). */
  writeIndex(): void {
    const bytes = Buffer.allocUnsafe(this.index.length * 8);
    for (let i = 0; i < this.index.length; i++) bytes.writeDoubleLE(this.index[i]!, i * 8);
    const tmp = `${this.indexPath}.tmp`;
    writeFileSync(tmp, bytes, { mode: 0o600 });
    renameSync(tmp, this.indexPath);
  }

  /** Cuts the file at `position` (a torn tail, or what a failed write left). */
  truncate(position: number): void {
    ftruncateSync(this.fd, position);
    this.#tail.clear(position);
    this.size = position;
    this.visibleSize = position;
  }

  /** Where the segment stands now: what `rollBack` returns it to. */
  mark(): SegmentMark {
    return { size: this.size, nextOffset: this.nextOffset, maxTimestamp: this.maxTimestamp, indexLength: this.index.length, lastIndexed: this.#lastIndexed };
  }

  /**
   * Undoes the appends made since `mark` (a write that failed part-way, on a full disk): the file
   * is cut back to where it was and what those appends noted is forgotten.
   */
  rollBack(mark: SegmentMark): void {
    const visible = Math.min(this.visibleSize, mark.size);
    this.truncate(mark.size);
    this.visibleSize = visible;
    this.nextOffset = mark.nextOffset;
    this.maxTimestamp = mark.maxTimestamp;
    this.index.length = mark.indexLength;
    this.#lastIndexed = mark.lastIndexed;
  }

  /** Appends framed records (already numbered from `nextOffset`) with one write call. */
  append(chunks: readonly Buffer[], count: number): void {
    let total = 0;
    for (const c of chunks) total += c.length;
    const written = writevSync(this.fd, chunks as Buffer[], this.size);
    if (written < total) {
      // A short write (rare on regular files): finish it piece by piece.
      const rest = Buffer.concat(chunks as Buffer[]).subarray(written);
      let done = 0;
      while (done < rest.length) done += writeSync(this.fd, rest, done, rest.length - done, this.size + written + done);
    }
    let at = this.size;
    for (const frames of chunks) {
      this.#tail.add(at, frames);
      // A DataView's reads are inlined by the JIT (Buffer's readDoubleLE is a call per field), and
      // the offset is read only where an index entry is due: this walk visits every record written.
      const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
      let pos = 0;
      while (pos < frames.length) {
        const position = at + pos;
        const timestamp = view.getFloat64(pos + FRAME_HEADER + 8, true);
        if (position - this.#lastIndexed >= INDEX_INTERVAL) this.#noteFrame(view.getFloat64(pos + FRAME_HEADER, true), position, timestamp);
        else if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
        pos += FRAME_HEADER + view.getUint32(pos, true);
      }
      at += frames.length;
    }
    this.size += total;
    this.nextOffset += count;
  }

  /** Byte position of the last index entry at or before `offset`. */
  positionFor(offset: number): number {
    const idx = this.index;
    let lo = 0;
    let hi = idx.length / 2 - 1;
    let best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (idx[mid * 2]! <= offset) {
        best = idx[mid * 2 + 1]!;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /**
   * Reads visible records from byte `position`, skipping those below `fromOffset`, up to about
   * `maxBytes`. Returns them and the position after the last one.
   */
  read(position: number, fromOffset: number, maxBytes: number, maxRecords: number): { records: StoredRecord[]; next: number } {
    const records: StoredRecord[] = [];
    const limit = this.visibleSize;
    if (position >= limit) return { records, next: position };
    if (this.#tail.has(position)) return this.#readTail(position, fromOffset, maxBytes, maxRecords, limit);
    let want = Math.min(maxBytes, limit - position);
    let buf = Buffer.allocUnsafe(want);
    let got = readFully(this.fd, buf, position);
    if (got >= FRAME_HEADER) {
      const first = FRAME_HEADER + buf.readUInt32LE(0);
      if (first > got) {
        // Visible bytes end on a frame boundary, so a frame here running past them has a damaged
        // length (a trusted segment is not checked on open); stopping at it would skip the rest.
        if (position + first > limit) {
          throw new CorruptLogError(this.logPath, position, fromOffset, `frame length ${first - FRAME_HEADER} runs past the end of the segment's ${limit} bytes`);
        }
        want = first;
        buf = Buffer.allocUnsafe(want);
        got = readFully(this.fd, buf, position);
      }
    }
    const p = takeFrames(this, position, buf, 0, got, fromOffset, records, maxRecords, (at, length) => at + length <= got);
    return { records, next: position + p };
  }

  /** `read` from the tail cache: the same records, without reading the file. */
  #readTail(position: number, fromOffset: number, maxBytes: number, maxRecords: number, limit: number): { records: StoredRecord[]; next: number } {
    const records: StoredRecord[] = [];
    let next = position;
    let stopped = false;
    this.#tail.visit(position, (bytes, from, to) => {
      const p = takeFrames(this, next, bytes, from, to, fromOffset, records, maxRecords, (at, length) => {
        const end = next + (at - from) + length;
        // Not yet durable, or beyond maxBytes (a first frame larger than maxBytes is read whole, as from the file).
        stopped = end > limit || (end - length > position && end - position > maxBytes);
        return !stopped;
      });
      next += p - from;
      return !stopped && records.length < maxRecords;
    });
    return { records, next };
  }

  /** Stops keeping recent frames in memory (the segment takes no more writes). */
  dropTail(): void {
    this.#tail.clear();
  }

  close(): void {
    this.#tail.clear();
    closeSync(this.fd);
  }

  /**
   * Closes and removes the segment's files (retention, compaction). The index goes first: a crash
   * in between leaves a log without an index, which opening rebuilds, never an orphaned index.
   */
  remove(): void {
    this.close();
    for (const path of [this.indexPath, this.logPath]) {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
  }
}

function readFully(fd: number, buf: Buffer, position: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function isZeroTail(fd: number, from: number, fileSize: number): boolean {
  const buf = Buffer.allocUnsafe(Math.min(1024 * 1024, fileSize - from));
  let pos = from;
  while (pos < fileSize) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, fileSize - pos), pos);
    if (n === 0) break;
    for (let i = 0; i < n; i++) if (buf[i] !== 0) return false;
    pos += n;
  }
  return true;
}

/**
 * Decodes the whole frames of `bytes[from, to)` into `records` — those at or above `fromOffset` —
 * until `maxRecords` are there or `fits(at, length)` turns the next frame down. Returns where it
 * stopped. The file read and the tail cache walk frames alike; they differ only in what fits.
 * `bytes[from]` is at byte `filePosition` of `segment`. A frame that does not decode (damage in a
 * segment trusted on open) ends the records returned; when it is the first, it is a
 * CorruptLogError saying where.
 */
function takeFrames(
  segment: Segment,
  filePosition: number,
  bytes: Buffer,
  from: number,
  to: number,
  fromOffset: number,
  records: StoredRecord[],
  maxRecords: number,
  fits: (at: number, length: number) => boolean,
): number {
  let p = from;
  while (p + FRAME_HEADER <= to && records.length < maxRecords) {
    const length = FRAME_HEADER + bytes.readUInt32LE(p);
    if (!fits(p, length)) break;
    try {
      if (length < FRAME_HEADER + MIN_BODY) throw new RangeError(`frame length ${length - FRAME_HEADER} is impossible`);
      if (frameOffset(bytes, p) >= fromOffset) records.push(decodeRecord(bytes, p));
    } catch (error) {
      // The records before it are intact: hand them out, and fail when the damaged one is next.
      if (records.length > 0) return p;
      throw new CorruptLogError(segment.logPath, filePosition + (p - from), fromOffset, (error as Error).message);
    }
    p += length;
  }
  return p;
}
