import { fdatasync, fdatasyncSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { TransportError } from '../../core/errors.ts';
import { deferred, type Deferred } from '../../internal/deferred.ts';
import { diskError } from './disk-error.ts';
import { CorruptLogError } from './errors.ts';
import { FRAME_HEADER, frameOffset, recycleFrames, type StoredRecord } from './record.ts';
import { Segment, segmentName, type SegmentMark } from './segment.ts';
import { syncDir } from './sync-dir.ts';

/**
 * Pending bytes that start a group commit at once (fsync 'batch' without a window) instead of on
 * the next turn of the event loop. Smaller appends wait that turn to share the fsync with the
 * appends made meanwhile; from a few hundred KiB on an fsync costs about in proportion to its
 * bytes (on an SSD ~0.2 ms, then ~0.45 ms per MiB), so waiting to share it gains little, and
 * starting it at once lets publishers encode their next records while the disk syncs.
 */
const EAGER_COMMIT_BYTES = 256 * 1024;

/** How publishes reach the disk. See docs/embedded.md for what each mode survives. */
export type FsyncMode = 'always' | 'batch' | 'never';

export interface PartitionLogOptions {
  fsync: FsyncMode;
  /** Roll to a new segment once the active one reaches this many bytes. */
  segmentBytes: number;
  /** Wait this long for more publishes before a group commit (ms; 0 = the next turn of the event loop, or at once for a large one). */
  batchWindowMs: number;
  /** Check every record's CRC in every segment on open (true), or only the active segment's. */
  verifyOnOpen: boolean;
}

/** What opening a partition found and repaired. */
export interface RecoveryNote {
  file: string;
  truncatedAt: number;
  droppedBytes: number;
  reason: string;
}

/** Where a commit left a segment it wrote to: what becomes visible once the commit is durable. */
interface WrittenSegment {
  segment: Segment;
  size: number;
  nextOffset: number;
}

interface PendingWrite {
  frames: Buffer;
  count: number;
  done: Deferred<void>;
}

/** Where a reader is: the segment and byte position of `offset`, to continue without an index lookup. */
export interface ReadHint {
  segment: Segment;
  position: number;
  offset: number;
}

/**
 * One partition's log: its segments (oldest first, the last one active), appends with group
 * commit, reads by offset, roll by size, recovery on open.
 */
export class PartitionLog {
  readonly dir: string;
  readonly options: PartitionLogOptions;
  readonly segments: Segment[] = [];
  readonly recovery: RecoveryNote[] = [];
  /** Called when new records become visible to readers. */
  onVisible: (() => void) | undefined;
  #pending: PendingWrite[] = [];
  #pendingBytes = 0;
  /** Records appended but not yet written: the next append's offsets come after them. */
  #pendingCount = 0;
  #scheduled = false;
  #syncing = false;
  #failed: Error | undefined;
  #closed = false;
  #idle: Deferred<void> | undefined;

  private constructor(dir: string, options: PartitionLogOptions) {
    this.dir = dir;
    this.options = options;
  }

  /** Opens (creating if needed) the partition in `dir`, recovering from a crash. */
  static open(dir: string, options: PartitionLogOptions): PartitionLog {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const log = new PartitionLog(dir, options);
    const files = readdirSync(dir);
    // Leftovers of a crash while replacing a file (compaction, index or metadata writes).
    for (const f of files) if (f.endsWith('.compacting') || f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
    const bases = files
      .filter((f) => /^\d{20}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 20)))
      .sort((a, b) => a - b);
    try {
      bases.forEach((base, i) => log.#openSegment(base, i === bases.length - 1));
    } catch (error) {
      for (const s of log.segments) s.close();
      throw error;
    }
    if (log.segments.length === 0) {
      log.segments.push(Segment.create(dir, 0));
      if (options.fsync !== 'never') syncDir(dir);
    }
    return log;
  }

  #openSegment(base: number, last: boolean): void {
    const prev = this.segments[this.segments.length - 1];
    const fresh = (): Segment => {
      const s = Segment.open(this.dir, base);
      if (prev) s.nextOffset = Math.max(base, prev.nextOffset);
      return s;
    };
    let segment = fresh();
    if (!last && !this.options.verifyOnOpen) {
      if (segment.loadIndex()) {
        segment.visibleNextOffset = segment.nextOffset;
        this.segments.push(segment);
        return;
      }
      segment.close(); // the index did not fit the file: rebuild it from a full scan
      segment = fresh();
    }
    this.segments.push(segment);
    const failure = segment.scan(true);
    if (!failure) return;
    // A torn tail: the last segment ends in an incomplete frame, a damaged final frame, or
    // zero bytes. Anything else is damage in the middle of the log: report it, never skip it.
    let torn = last && (failure.reason === 'truncated' || failure.lastFrame || failure.zeroTail);
    let reason = `${failure.reason}: ${failure.detail}`;
    if (torn && failure.reason === 'truncated' && !failure.zeroTail) {
      // A frame that runs past the end of the file is a write cut short — unless a complete,
      // intact record follows it: then its length field was damaged, and cutting there would
      // drop acknowledged records.
      const next = segment.findFrame(failure.position + 1, segment.nextOffset);
      if (next !== undefined) {
        torn = false;
        reason += `, yet an intact record (offset ${next.offset}) starts at byte ${next.position}: the length field of this record is damaged`;
      }
    }
    if (!torn) throw new CorruptLogError(segment.logPath, failure.position, segment.nextOffset, reason);
    segment.truncate(failure.position);
    this.recovery.push({ file: segment.logPath, truncatedAt: failure.position, droppedBytes: failure.fileSize - failure.position, reason: failure.detail });
    segment.visibleNextOffset = segment.nextOffset;
  }

  get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** First offset still stored. */
  get startOffset(): number {
    const first = this.segments[0]!;
    return first.index.length > 0 ? first.index[0]! : first.visibleNextOffset;
  }

  /** Offset after the last visible record. */
  get endOffset(): number {
    return this.active.visibleNextOffset;
  }

  /** Offset the next append gets. */
  get nextOffset(): number {
    return this.active.nextOffset;
  }

  /** Bytes on disk. */
  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /**
   * The offset the next `append` must number its records from: the caller frames them with
   * `encodeRecords(messages, log.reserve(count))` and appends them in the same turn of the event
   * loop. Nothing is held until `append`: the offset follows from the records written and queued,
   * so a reservation whose framing failed (and was never appended) leaves no hole.
   */
  reserve(_count: number): number {
    if (this.#closed) throw new TransportError('partition log is closed', { retryable: false });
    if (this.#failed) throw new TransportError(`partition log ${this.dir} failed: ${this.#failed.message}`, { cause: this.#failed, retryable: false });
    return this.active.nextOffset + this.#pendingCount;
  }

  /**
   * Queues `count` records framed by `encodeRecords` (numbered from `reserve()`) for the next
   * commit. Resolves once they are as durable as the fsync mode makes them. Once they are written,
   * their memory is reused for later frames: the caller must not read `frames` afterwards.
   */
  append(frames: Buffer, count: number): Promise<void> {
    // One read per call: frames numbered from anything but the next offset would make the log's
    // offsets repeat or jump, which the next open reports as corruption.
    const expected = this.active.nextOffset + this.#pendingCount;
    if (frames.length >= FRAME_HEADER + 8 && frameOffset(frames, 0) !== expected) {
      return Promise.reject(new Error(`partition log ${this.dir}: records numbered from ${frameOffset(frames, 0)} appended where ${expected} is next; frame them with reserve() and append them in the same turn`));
    }
    const done = deferred<void>();
    this.#pending.push({ frames, count, done });
    this.#pendingBytes += frames.length;
    this.#pendingCount += count;
    this.#schedule();
    return done.promise;
  }

  #schedule(): void {
    if (this.#scheduled || this.#syncing) return;
    const { fsync, batchWindowMs } = this.options;
    // At once for 'always' and for a large group commit, so publishers encode their next records
    // while its fsync runs; otherwise on the next turn, so the appends made meanwhile share it.
    if (fsync === 'always' || (fsync === 'batch' && batchWindowMs === 0 && this.#pendingBytes >= EAGER_COMMIT_BYTES)) return this.#flush();
    this.#scheduled = true;
    if (fsync === 'batch' && batchWindowMs > 0) setTimeout(() => this.#flush(), batchWindowMs);
    else setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#scheduled = false;
    const mode = this.options.fsync;
    const batch = mode === 'always' ? this.#pending.splice(0, 1) : this.#pending.splice(0);
    if (batch.length === 0) return this.#settleIdle();
    for (const w of batch) {
      this.#pendingBytes -= w.frames.length;
      this.#pendingCount -= w.count;
    }
    const written: WrittenSegment[] = [];
    const before = this.#markBefore();
    try {
      // One write per segment touched: runs of batches that fit before the next roll.
      let chunks: Buffer[] = [];
      let bytes = 0;
      let count = 0;
      const write = (): void => {
        if (chunks.length === 0) return;
        const active = this.active;
        active.append(chunks, count);
        for (const c of chunks) recycleFrames(c);
        const last = written[written.length - 1];
        if (last?.segment === active) written.pop();
        written.push({ segment: active, size: active.size, nextOffset: active.nextOffset });
        chunks = [];
        bytes = 0;
        count = 0;
      };
      for (const w of batch) {
        const active = this.active;
        if (chunks.length >= 512) write(); // stay well below the OS's iovec limit
        if (active.size + bytes > 0 && active.size + bytes + w.frames.length > this.options.segmentBytes) {
          write();
          if (this.active.size > 0) this.#roll();
        }
        chunks.push(w.frames);
        bytes += w.frames.length;
        count += w.count;
      }
      write();
    } catch (error) {
      this.#undo(before, error as Error, batch);
      return;
    }
    if (mode === 'never') {
      this.#publish(written, batch);
      if (this.#pending.length > 0) this.#schedule();
      else this.#settleIdle();
      return;
    }
    this.#syncing = true;
    fdatasync(this.active.fd, (error) => {
      this.#syncing = false;
      if (error) return this.#undo(before, error, batch, true);
      // The next commit is scheduled before this one's publishers wake up: when it starts at once,
      // what they publish next is encoded while its fsync runs.
      if (this.#pending.length > 0) this.#schedule();
      this.#publish(written, batch);
      this.#settleIdle();
    });
  }

  /** Makes what a commit wrote visible: only up to where it wrote, as a later commit may already be writing past it. */
  #publish(written: readonly WrittenSegment[], batch: PendingWrite[]): void {
    for (const w of written) {
      w.segment.visibleSize = Math.max(w.segment.visibleSize, w.size);
      w.segment.visibleNextOffset = Math.max(w.segment.visibleNextOffset, w.nextOffset);
    }
    for (const w of batch) w.done.resolve();
    this.onVisible?.();
  }

  /** Where the log stands before a commit writes: what `#undo` returns it to. */
  #markBefore(): { segments: number; active: SegmentMark } {
    return { segments: this.segments.length, active: this.active.mark() };
  }

  /**
   * A commit's write or sync failed (a full disk, a quota, a file size limit): its records were
   * never visible, so the files are cut back to where they were before it, and its publishes and
   * those queued behind it are rejected — a rejected publish stores nothing, and does not come
   * back after a restart. Once space is freed, publishing works again without reopening. After a
   * failed sync (`synced`), or when cutting back fails too, the log refuses writes until reopened:
   * what the disk holds is then not known for sure, and opening recovers it.
   */
  #undo(before: { segments: number; active: SegmentMark }, error: Error, batch: PendingWrite[], synced = false): void {
    let undone = true;
    try {
      while (this.segments.length > before.segments) this.segments.pop()!.remove();
      this.active.rollBack(before.active);
    } catch {
      undone = false;
    }
    const usable = undone && !synced;
    if (!usable) this.#failed = error;
    const outcome = usable
      ? 'None of it was stored; try again once the problem is fixed.'
      : 'None of it was acknowledged; the partition takes no more writes until it is opened again.';
    const rejected = diskError(`${synced ? 'syncing' : 'writing to'} ${this.dir}`, error, outcome, usable);
    this.#pendingBytes = 0;
    this.#pendingCount = 0;
    for (const w of [...batch, ...this.#pending.splice(0)]) w.done.reject(rejected);
    this.#settleIdle();
  }

  #settleIdle(): void {
    if (this.#pending.length === 0 && !this.#syncing && !this.#scheduled) {
      this.#idle?.resolve();
      this.#idle = undefined;
    }
  }

  /**
   * Starts a new segment; the old one is synced and its index written. The sync happens in every
   * fsync mode, 'never' included: recovery accepts a torn tail only in the last segment, so a
   * segment must be wholly on disk before records go to the next one, or an OS crash could leave
   * damage that opening reports as corruption. It costs one fsync per `segmentBytes` written.
   */
  #roll(): void {
    const old = this.active;
    fdatasyncSync(old.fd);
    old.writeIndex();
    old.dropTail();
    this.segments.push(Segment.create(this.dir, old.nextOffset));
    if (this.options.fsync !== 'never') syncDir(this.dir);
  }

  /** Resolves when every pending append has been written (and synced). */
  flushed(): Promise<void> {
    if (this.#pending.length === 0 && !this.#syncing && !this.#scheduled) return Promise.resolve();
    this.#idle ??= deferred<void>();
    return this.#idle.promise;
  }

  /**
   * Reads up to `maxRecords` visible records from `offset` (or the first stored one after it).
   * `hint` continues a sequential read without an index lookup.
   */
  read(offset: number, maxRecords: number, maxBytes: number, hint?: ReadHint): { records: StoredRecord[]; hint: ReadHint | undefined } {
    let segIndex: number;
    let position: number;
    if (hint && hint.offset === offset && this.segments.includes(hint.segment)) {
      segIndex = this.segments.indexOf(hint.segment);
      position = hint.position;
    } else {
      segIndex = this.#segmentFor(offset);
      position = this.segments[segIndex]!.positionFor(offset);
    }
    for (;;) {
      const segment = this.segments[segIndex]!;
      const { records, next } = segment.read(position, offset, maxBytes, maxRecords);
      if (records.length > 0) {
        const last = records[records.length - 1]!.offset + 1;
        return { records, hint: { segment, position: next, offset: last } };
      }
      if (next > position && next < segment.visibleSize) {
        position = next; // skipped records below `offset` (compacted gaps); keep going
        continue;
      }
      if (segIndex + 1 >= this.segments.length || segment.visibleSize < segment.size) return { records, hint: undefined };
      segIndex++;
      position = 0;
    }
  }

  #segmentFor(offset: number): number {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    let best = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segs[mid]!.base <= offset) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  /**
   * Removes `segment`, a closed segment that holds no record any more (compaction emptied it):
   * its descriptor and files go. Readers positioned in it continue at the next segment (`read`
   * finds its hint no longer in the log and looks the offset up again), and the partition starts
   * at the first record that is left. The active segment is never removed: its base is where the
   * next offset comes from after a reopen.
   */
  removeSegment(segment: Segment): void {
    const i = this.segments.indexOf(segment);
    if (i < 0 || i === this.segments.length - 1) return;
    this.segments.splice(i, 1);
    segment.remove();
    if (this.options.fsync !== 'never') syncDir(this.dir);
  }

  /**
   * The closed segments, oldest first, up to the first one a commit is still writing or syncing.
   * A commit that rolls leaves records in the segment it closed that become visible only when its
   * fsync returns: compaction copied only the visible bytes over the file — or removed it as
   * empty — and the publish then resolved for records no longer on disk.
   */
  settledSegments(): Segment[] {
    const closed: Segment[] = [];
    for (let i = 0; i < this.segments.length - 1; i++) {
      const s = this.segments[i]!;
      if (s.visibleSize < s.size) break;
      closed.push(s);
    }
    return closed;
  }

  /**
   * Removes the oldest closed segments for which `drop` says yes (stops at the first no, and at a
   * segment a commit is still syncing: its publishes have not resolved, and undoing a failed
   * commit counts on the segments it wrote to still being there).
   */
  dropOldest(drop: (segment: Segment, index: number) => boolean): number {
    let n = 0;
    while (this.segments.length > 1 && this.segments[0]!.visibleSize === this.segments[0]!.size && drop(this.segments[0]!, n)) {
      this.segments.shift()!.remove();
      n++;
    }
    return n;
  }

  /** Waits for pending writes, writes the active index and closes every file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flushed();
    this.#closed = true;
    try {
      this.active.writeIndex();
    } catch {
      // the index is rebuilt on open when missing
    }
    for (const s of this.segments) s.close();
  }
}

export { segmentName };
