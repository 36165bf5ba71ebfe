import { closeSync, existsSync, fdatasync, fdatasyncSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { syncDir } from './sync-dir.ts';

/**
 * Durable committed positions of every consumer group: an append-only file of JSON lines
 * `{"t":topic,"g":group,"p":partition,"o":offset}`, the last line per (topic, group, partition)
 * winning. It is rewritten compactly on open and whenever it grows well past its live entries.
 * A torn last line (crash while writing) is ignored: at worst a group re-reads a few messages.
 */
export class GroupOffsets {
  readonly path: string;
  readonly #committed = new Map<string, { t: string; g: string; p: number; o: number }>();
  readonly #dirty = new Set<string>();
  #fd: number;
  #lines = 0;
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
          const e = JSON.parse(line) as { t: string; g: string; p: number; o: number };
          if (typeof e.t === 'string' && typeof e.g === 'string' && Number.isInteger(e.p) && Number.isInteger(e.o)) {
            this.#committed.set(keyOf(e.t, e.g, e.p), e);
          }
        } catch {
          // a torn line from a crash mid-write
        }
      }
    }
    this.#rewrite();
    this.#fd = openSync(path, 'a', 0o600);
  }

  get(topic: string, group: string, partition: number): number | undefined {
    return this.#committed.get(keyOf(topic, group, partition))?.o;
  }

  set(topic: string, group: string, partition: number, offset: number): void {
    const key = keyOf(topic, group, partition);
    this.#committed.set(key, { t: topic, g: group, p: partition, o: offset });
    this.#dirty.add(key);
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

  /** Writes the changed positions (one write call), synced to disk before it returns unless fsync is 'never'. */
  flush(): void {
    if (!this.#write()) return;
    if (this.#sync) fdatasyncSync(this.#fd);
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
  #write(): boolean {
    if (this.#dirty.size === 0) return false;
    let text = '';
    for (const key of this.#dirty) text += `${JSON.stringify(this.#committed.get(key))}\n`;
    this.#lines += this.#dirty.size;
    this.#dirty.clear();
    writeSync(this.#fd, text);
    return true;
  }

  /** Rewrites the file compactly once it grew well past its live entries (never under a running sync). */
  #compactIfDue(): void {
    if (this.#syncing || !(this.#lines > 1_000 && this.#lines > 4 * this.#committed.size)) return;
    this.#reopenCompacted();
  }

  /** Closes the file, rewrites it with the live entries only and opens it again for appending. */
  #reopenCompacted(): void {
    this.#closeFile();
    this.#rewrite();
    this.#fd = openSync(this.path, 'a', 0o600);
  }

  /** Closes the file; a sync still running on the thread pool then finds a newer generation and does nothing. */
  #closeFile(): void {
    this.#generation++;
    closeSync(this.#fd);
  }

  #rewrite(): void {
    let text = '';
    for (const e of this.#committed.values()) text += `${JSON.stringify(e)}\n`;
    writeFileSync(`${this.path}.tmp`, text, { mode: 0o600, flush: this.#sync });
    renameSync(`${this.path}.tmp`, this.path);
    if (this.#sync) syncDir(dirname(this.path));
    this.#lines = this.#committed.size;
  }

  close(): void {
    this.flush();
    this.#closeFile();
  }
}

function keyOf(topic: string, group: string, partition: number): string {
  return `${topic}\u0000${group}\u0000${partition}`;
}
