import { fdatasyncSync, readSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import type { OutgoingMessage } from '../../core/message.ts';
import type { PartitionLog } from './partition-log.ts';
import { CorruptLogError } from './errors.ts';
import { decodeRecord, FRAME_HEADER, frameOffset, MIN_BODY, type StoredRecord } from './record.ts';
import { Segment } from './segment.ts';
import { syncDir } from './sync-dir.ts';
import { diskError } from './disk-error.ts';

/** The header that marks a record as a tombstone on a compacted topic. */
export const TOMBSTONE_HEADER = 'x-switchyard-tombstone';

/**
 * A tombstone for `key`: on a compacted topic, compaction removes the key (after
 * `tombstoneRetentionMs`, so consumers that are behind still see the deletion).
 *
 * @example
 * ```ts
 * await bus.publish('customers.state', tombstone('customer-42'));
 * ```
 */
export function tombstone(key: string, headers: Record<string, string> = {}): OutgoingMessage {
  return { key, payload: new Uint8Array(0), headers: { ...headers, [TOMBSTONE_HEADER]: '1' } };
}

function readVisible(segment: Segment): Buffer {
  const buf = Buffer.allocUnsafe(segment.visibleSize);
  let got = 0;
  while (got < buf.length) {
    const n = readSync(segment.fd, buf, got, buf.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * The records of `buf` (a segment's visible bytes) with their positions. A segment trusted on open
 * was never checked, so damage may be met here: it is a CorruptLogError naming the file, byte and
 * offset, never a segment compacted short. (Visible bytes end on a frame boundary: a frame
 * running past them has a damaged length, and compacting on would drop the records after it.)
 */
function* records(segment: Segment, buf: Buffer): Generator<[position: number, record: StoredRecord]> {
  let p = 0;
  let next = segment.base; // the offset the damaged record would have, for the error
  while (p < buf.length) {
    const length = p + FRAME_HEADER <= buf.length ? buf.readUInt32LE(p) : -1;
    let record: StoredRecord;
    try {
      if (length < MIN_BODY || p + FRAME_HEADER + length > buf.length) throw new RangeError(`frame length ${length} does not fit the segment's ${buf.length} bytes`);
      record = decodeRecord(buf, p);
    } catch (error) {
      throw new CorruptLogError(segment.logPath, p, next, (error as Error).message);
    }
    yield [p, record];
    next = record.offset + 1;
    p += FRAME_HEADER + length;
  }
}

/**
 * Compacts the closed segments of one partition: keeps, per key, only the record with the
 * highest offset in the whole partition; drops tombstones older than `tombstoneRetentionMs`.
 * Records keep their offsets (the log gets gaps, which consumers skip). Unkeyed records are kept.
 * Each segment is rewritten to a new file (frames copied as they are, CRCs intact), synced, and
 * renamed over the old one; a segment left with no record is removed. Returns the number of
 * segments rewritten or removed. A closed segment a commit still syncs is left alone (see
 * `PartitionLog.settledSegments`).
 */
export function compactPartition(log: PartitionLog, now: number, tombstoneRetentionMs: number): number {
  const closed = log.settledSegments();
  if (closed.length === 0) return 0;
  const latest = new Map<string, number>();
  for (const segment of log.segments) {
    for (const [, r] of records(segment, readVisible(segment))) {
      if (r.key !== '') latest.set(r.key, r.offset);
    }
  }
  let rewritten = 0;
  for (const segment of closed) {
    const buf = readVisible(segment);
    const keep: Buffer[] = [];
    let dropped = 0;
    for (const [p, r] of records(segment, buf)) {
      const end = p + FRAME_HEADER + buf.readUInt32LE(p);
      const superseded = r.key !== '' && latest.get(r.key) !== frameOffset(buf, p);
      const expiredTombstone = r.headers[TOMBSTONE_HEADER] !== undefined && now - r.timestamp >= tombstoneRetentionMs;
      if (superseded || expiredTombstone) dropped++;
      else keep.push(buf.subarray(p, end));
    }
    if (keep.length === 0) {
      // Nothing left (or an empty segment an earlier version left behind): remove the segment
      // instead of keeping an empty file and its descriptor, which would also stop age retention.
      log.removeSegment(segment);
      rewritten++;
      continue;
    }
    if (dropped === 0) continue;
    const i = log.segments.indexOf(segment);
    const tmp = `${segment.logPath}.compacting`;
    try {
      writeFileSync(tmp, Buffer.concat(keep), { mode: 0o600, flush: true });
    } catch (error) {
      rmSync(tmp, { force: true });
      throw diskError(`compacting ${segment.logPath}`, error, 'The segment is kept as it was; compaction tries again at the next maintenance.');
    }
    const path = segment.logPath;
    segment.close();
    try {
      unlinkSync(segment.indexPath); // first, so a crash never pairs an old index with new contents
    } catch {
      // no index written yet
    }
    renameSync(tmp, path);
    const fresh = Segment.open(log.dir, segment.base);
    fresh.nextOffset = segment.base;
    fresh.scan(false);
    fdatasyncSync(fresh.fd);
    fresh.nextOffset = segment.nextOffset;
    fresh.visibleNextOffset = segment.nextOffset;
    fresh.writeIndex();
    syncDir(log.dir);
    log.segments[i] = fresh;
    rewritten++;
  }
  return rewritten;
}
