import { closeSync, existsSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { diskError } from './disk-error.ts';
import { syncDir } from './sync-dir.ts';

/**
 * Offsets above a committed position that were acknowledged already (or hold no record), as
 * ranges `[from, to)`, lowest first and disjoint.
 */
export type AckedRanges = ReadonlyArray<readonly [number, number]>;

/** One line of the file. `a`: the acknowledged ranges above `o`, when there are any. */
interface PositionLine {
  t: string;
  g: string;
  p: number;
  o: number;
  a?: AckedRanges;
}

/**
 * Durable committed positions of every consumer group: an append-only file of JSON lines
 * `{"t":topic,"g":group,"p":partition,"o":offset,"a":[[from,to],…]}`, the last line per
 * (topic, group, partition) winning. `a` (optional) lists offsets above `o` already acknowledged:
 * messages handled after one that is still failing or in flight, which a restart must not deliver
 * again. It is rewritten compactly on open and whenever it grows well past its live entries.
 * A torn last line (crash while writing) is ignored: at worst a group re-reads a few messages.
 * A write that fails (a full disk) is cut off the file and its positions stay to be written by
 * the next flush: the file never holds half a line that a later line would be glued to.
 */
export class GroupOffsets {
  readonly path: string;
  readonly #committed = new Map<string, PositionLine>();
  readonly #dirty = new Set<string>();
  #fd: number;
  /** Bytes in the file: where a failed write is cut back to. */
  #size = 0;
  #lines = 0;
  /** Lines when compacting last failed (a full disk): not tried again until as many more were written. */
  #compactFailedAt = -Infinity;
  readonly #sync: boolean;
  /** An fdatasync of the file is running on the thread pool (see `flushSoon`). */
  #syncing = false;
  /** Lines were written while it ran: sync again when it is done. */
  #syncAgain = false;
  /** Bumped whenever the file descriptor is closed (rewrite, close): a late sync callback then does nothing. */
  #generation = 0;

  constructor(path: string, sync: boolean) {
    this.path = path;
    this.#sync = sync;
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line === '') continue;
        try {
          const e = JSON.parse(line) as PositionLine;
          if (typeof e.t === 'string' && typeof e.g === 'string' && Number.isInteger(e.p) && Number.isInteger(e.o)) {
            // Ranges that are not what this class writes are dropped: those messages come again (at least once).
            const a = e.a === undefined || isAckedRanges(e.a, e.o) ? e.a : undefined;
            this.#committed.set(keyOf(e.t, e.g, e.p), { t: e.t, g: e.g, p: e.p, o: e.o, ...(a && a.length > 0 ? { a } : {}) });
          }
        } catch {
          // a torn line from a crash mid-write
        }
      }
    }
    try {
      this.#rewrite();
    } catch {
      // No room for a compacted copy (a full disk): go on appending to the file as it is.
      this.#lines = this.#committed.size;
    }
    this.#fd = this.#open();
  }

  #open(): number {
    try {
      const fd = openSync(this.path, 'a', 0o600);
      this.#size = fstatSync(fd).size;
      return fd;
    } catch (error) {
      throw diskError(`opening the consumer positions file ${this.path}`, error, 'Connect again once this is fixed.');
    }
  }

  get(topic: string, group: string, partition: number): number | undefined {
    return this.#committed.get(keyOf(topic, group, partition))?.o;
  }

  /** The ranges above the committed position acknowledged already (empty when none). */
  acked(topic: string, group: string, partition: number): AckedRanges {
    return this.#committed.get(keyOf(topic, group, partition))?.a ?? [];
  }

  /** Sets a committed position, with the ranges above it acknowledged already (see `acked`). */
  set(topic: string, group: string, partition: number, offset: number, acked: AckedRanges = []): void {
    const key = keyOf(topic, group, partition);
    this.#committed.set(key, { t: topic, g: group, p: partition, o: offset, ...(acked.length > 0 ? { a: acked } : {}) });
    this.#dirty.add(key);
  }

  /**
   * Drops a position set but not yet written (a refused subscribe's starting position), so that
   * no later flush saves it. One already written stays: the file has it.
   */
  forgetUnsaved(topic: string, group: string, partition: number): void {
    const key = keyOf(topic, group, partition);
    if (this.#dirty.delete(key)) this.#committed.delete(key);
  }

  get dirty(): boolean {
    return this.#dirty.size > 0;
  }

  /** Removes `group`'s positions on `topics` (rewriting the file). */
  delete(group: string, topics: ReadonlySet<string>): void {
    let changed = false;
    for (const [key, e] of this.#committed) {
      if (e.g === group && topics.has(e.t)) {
        this.#committed.delete(key);
        this.#dirty.delete(key);
        changed = true;
      }
    }
    if (!changed) return;
    this.flush();
    this.#reopenCompacted();
  }

  /** Every (topic, group, partition, offset) known. */
  entries(): Array<{ topic: string; group: string; partition: number; offset: number }> {
    return [...this.#committed.values()].map((e) => ({ topic: e.t, group: e.g, partition: e.p, offset: e.o }));
  }

  /**
   * Writes the changed positions (one write call), synced to disk before it returns unless fsync
   * is 'never'. A failure is thrown as a TransportError ending with `outcome`: what became of them.
   */
  flush(outcome = UNSAVED): void {
    if (!this.#write(outcome)) return;
    if (this.#sync) {
      try {
        fdatasyncSync(this.#fd);
      } catch (error) {
        throw diskError(`syncing the consumer positions file ${this.path}`, error, outcome);
      }
    }
    this.#compactIfDue();
  }

  /**
   * Writes the changed positions and syncs them on the thread pool, not on the event loop: what
   * the periodic commit uses. A position synced a few milliseconds late costs at most a few
   * redeliveries after a crash (at least once either way); an fsync on the event loop every 20 ms
   * stalled every handler of the process.
   */
  flushSoon(): void {
    if (!this.#write()) return;
    if (this.#sync) this.#syncOnPool();
    else this.#compactIfDue();
  }

  /**
   * Starts an fdatasync on the thread pool; while one runs, asks for another once it is done
   * (the running one may have started before the latest write).
   */
  #syncOnPool(): void {
    if (this.#syncing) {
      this.#syncAgain = true;
      return;
    }
    this.#syncing = true;
    const generation = this.#generation;
    fdatasync(this.#fd, () => {
      // An error here (the file closed meanwhile) changes nothing: the next flush() syncs.
      this.#syncing = false;
      if (generation !== this.#generation) return;
      if (this.#syncAgain) {
        this.#syncAgain = false;
        this.#syncOnPool();
      } else this.#compactIfDue();
    });
  }

  /** Appends the changed positions; false when there were none. */
  #write(outcome = UNSAVED): boolean {
    if (this.#dirty.size === 0) return false;
    let text = '';
    for (const key of this.#dirty) text += `${JSON.stringify(this.#committed.get(key))}\n`;
    const bytes = Buffer.from(text);
    try {
      // writeSync may write part of it (the disk filled up meanwhile) and report no error.
      for (let done = 0; done < bytes.length; ) done += writeSync(this.#fd, bytes, done, bytes.length - done);
    } catch (error) {
      try {
        ftruncateSync(this.#fd, this.#size);
      } catch {
        // the torn line is skipped when the file is read
      }
      throw diskError(`saving consumer positions to ${this.path}`, error, outcome);
    }
    this.#size += bytes.length;
    this.#lines += this.#dirty.size;
    this.#dirty.clear();
    return true;
  }

  /** Rewrites the file compactly once it grew well past its live entries (never under a running sync). */
  #compactIfDue(): void {
    if (this.#syncing || !(this.#lines > 1_000 && this.#lines > 4 * this.#committed.size)) return;
    if (this.#lines < this.#compactFailedAt + 1_000) return;
    try {
      this.#reopenCompacted();
    } catch {
      this.#compactFailedAt = this.#lines; // the file stays long, which costs nothing but disk
    }
  }

  /** Closes the file, rewrites it with the live entries only and opens it again for appending. */
  #reopenCompacted(): void {
    this.#closeFile();
    try {
      this.#rewrite();
    } finally {
      this.#fd = this.#open();
    }
  }

  /** Closes the file; a sync still running on the thread pool then finds a newer generation and does nothing. */
  #closeFile(): void {
    this.#generation++;
    closeSync(this.#fd);
  }

  #rewrite(): void {
    let text = '';
    for (const e of this.#committed.values()) text += `${JSON.stringify(e)}\n`;
    try {
      writeFileSync(`${this.path}.tmp`, text, { mode: 0o600, flush: this.#sync });
    } catch (error) {
      rmSync(`${this.path}.tmp`, { force: true });
      throw diskError(`compacting the consumer positions file ${this.path}`, error, 'The file is kept as it was.');
    }
    renameSync(`${this.path}.tmp`, this.path);
    if (this.#sync) syncDir(dirname(this.path));
    this.#lines = this.#committed.size;
  }

  /** Writes what is left and closes the file; a failed write is thrown after the file is closed. */
  close(): void {
    try {
      this.flush(LOST_ON_CLOSE);
    } finally {
      this.#closeFile();
    }
  }
}

/** What becomes of positions that could not be saved. */
const UNSAVED = 'They are kept in memory and saved by the next commit; should the process end first, the messages after the last saved position are delivered again.';
/** What becomes of positions that could not be saved when closing. */
const LOST_ON_CLOSE = 'The messages after the last saved position of each group will be delivered again.';

/** Whether `a` is what `set` writes: whole-number ranges `[from, to)` at or above `committed`, ascending and disjoint. */
function isAckedRanges(a: unknown, committed: number): a is AckedRanges {
  if (!Array.isArray(a)) return false;
  let below = committed;
  for (const range of a as unknown[]) {
    if (!Array.isArray(range) || range.length !== 2) return false;
    const [from, to] = range as unknown[];
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || (from as number) < below || (to as number) <= (from as number)) return false;
    below = to as number;
  }
  return true;
}

function keyOf(topic: string, group: string, partition: number): string {
  return `${topic}\u0000${group}\u0000${partition}`;
}
