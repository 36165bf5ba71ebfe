/** An entry waiting to be handled: its position in the stream and its ordering key. */
export interface KeyedEntry {
  readonly seq: number;
  readonly key: string;
}

/**
 * Messages waiting for a handler, released so that no two with the same key are ever in flight
 * at once and each key's messages go out in stream order, while other keys overtake a busy one.
 * An empty key means "no ordering": such entries are never held back.
 */
export class KeyedQueue<E extends KeyedEntry> {
  readonly #waiting: E[] = [];
  readonly #busy = new Set<string>();

  get size(): number {
    return this.#waiting.length;
  }

  /** Adds an entry in stream order (a redelivered entry goes back before later ones). */
  push(entry: E): void {
    const w = this.#waiting;
    if (w.length === 0 || w[w.length - 1]!.seq < entry.seq) {
      w.push(entry);
      return;
    }
    let lo = 0;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w[mid]!.seq < entry.seq) lo = mid + 1;
      else hi = mid;
    }
    w.splice(lo, 0, entry);
  }

  /** Takes the first entry whose key is not in flight and marks its key busy; undefined if none. */
  take(): E | undefined {
    const w = this.#waiting;
    for (let i = 0; i < w.length; i++) {
      const entry = w[i]!;
      if (entry.key !== '' && this.#busy.has(entry.key)) continue;
      if (i === 0) w.shift();
      else w.splice(i, 1);
      if (entry.key !== '') this.#busy.add(entry.key);
      return entry;
    }
    return undefined;
  }

  /** The entry's handler settled: its key may go again. */
  release(entry: E): void {
    if (entry.key !== '') this.#busy.delete(entry.key);
  }

  /** Removes and returns every waiting entry (on close, to hand back to the broker). */
  drain(): E[] {
    return this.#waiting.splice(0);
  }
}
