/** An entry waiting to be handled: its position in the stream and its ordering key. */
export interface KeyedEntry {
  readonly seq: number;
  readonly key: string;
}

/** Taken slots at the front are dropped from the array once there are this many and they are half of it. */
const COMPACT_AT = 1_024;

/**
 * Messages waiting for a handler, released so that no two with the same key are ever in flight
 * at once and each key's messages go out in stream order, while other keys overtake a busy one.
 * An empty key means "no ordering": such entries are never held back.
 *
 * Taking the first waiting entry (the common case) is O(1) amortized: the array keeps a head
 * index and is compacted now and then, instead of shifting every element per take.
 */
export class KeyedQueue<E extends KeyedEntry> {
  /** `#items[#head…]` are waiting, in seq order; slots before `#head` were taken. */
  #items: Array<E | undefined> = [];
  #head = 0;
  readonly #busy = new Set<string>();

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an entry in stream order (a redelivered entry goes back before later ones). */
  push(entry: E): void {
    const w = this.#items;
    if (w.length === this.#head || w[w.length - 1]!.seq < entry.seq) {
      w.push(entry);
      return;
    }
    let lo = this.#head;
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
    const w = this.#items;
    const busy = this.#busy;
    for (let i = this.#head; i < w.length; i++) {
      const entry = w[i]!;
      if (entry.key !== '' && busy.has(entry.key)) continue;
      if (i === this.#head) {
        w[i] = undefined;
        this.#head++;
        this.#compact();
      } else {
        w.splice(i, 1);
      }
      if (entry.key !== '') busy.add(entry.key);
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
    const waiting = this.#items.slice(this.#head) as E[];
    this.#items = [];
    this.#head = 0;
    return waiting;
  }

  #compact(): void {
    const w = this.#items;
    const head = this.#head;
    if (head === w.length) {
      w.length = 0;
      this.#head = 0;
    } else if (head >= COMPACT_AT && head * 2 >= w.length) {
      w.copyWithin(0, head);
      w.length -= head;
      this.#head = 0;
    }
  }
}
