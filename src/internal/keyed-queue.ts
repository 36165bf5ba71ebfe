/** An entry waiting to be handled: its position in the stream and its ordering key. */
export interface KeyedEntry {
  readonly seq: number;
  readonly key: string;
}

/** Spent slots are dropped from the array once there are this many and they are half of it. */
const COMPACT_AT = 1_024;

/**
 * Holes are swept out once there are this many and at least as many as waiting entries: a key
 * busy for long (a slow handler, a redelivery delay) lets every later message pass it, and the
 * scan from the head must not walk an ever longer trail of holes.
 */
const SWEEP_AT = 64;

/**
 * Messages waiting for a handler, released so that no two with the same key are ever in flight
 * at once and each key's messages go out in stream order, while other keys overtake a busy one.
 * An empty key means "no ordering": such entries are never held back.
 *
 * The array keeps a head index, and an entry taken from behind a busy key leaves a hole (its
 * seq, so the array stays sorted for redeliveries) instead of shifting everything after it: with
 * many messages read ahead, that shift copied the whole queue per message. The head skips holes
 * as it passes them; holes are swept out before they outnumber the waiting entries.
 */
export class KeyedQueue<E extends KeyedEntry> {
  /** `#items[#head…]` in seq order: waiting entries, and numbers (the seq of an entry taken out of turn). */
  #items: Array<E | number> = [];
  #head = 0;
  #holes = 0;
  readonly #busy = new Set<string>();

  get size(): number {
    return this.#items.length - this.#head - this.#holes;
  }

  /** Adds an entry in stream order (a redelivered entry goes back before later ones). */
  push(entry: E): void {
    const w = this.#items;
    if (w.length === this.#head || seqOf(w[w.length - 1]!) < entry.seq) {
      w.push(entry);
      return;
    }
    let lo = this.#head;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqOf(w[mid]!) < entry.seq) lo = mid + 1;
      else hi = mid;
    }
    if (w[lo] === entry.seq) {
      w[lo] = entry; // back into the hole it left
      this.#holes--;
    } else {
      w.splice(lo, 0, entry);
    }
  }

  /** Takes the first entry whose key is not in flight and marks its key busy; undefined if none. */
  take(): E | undefined {
    const w = this.#items;
    const busy = this.#busy;
    for (let i = this.#head; i < w.length; i++) {
      const entry = w[i]!;
      if (typeof entry === 'number') continue;
      if (entry.key !== '' && busy.has(entry.key)) continue;
      if (i === this.#head) {
        this.#head++;
        this.#skipHoles();
      } else {
        w[i] = entry.seq;
        if (++this.#holes >= SWEEP_AT && this.#holes >= this.size) this.#sweep();
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
    const waiting = this.#items.slice(this.#head).filter((e): e is E => typeof e !== 'number');
    this.#items = [];
    this.#head = 0;
    this.#holes = 0;
    return waiting;
  }

  /** Drops every hole, keeping the waiting entries in order. */
  #sweep(): void {
    const w = this.#items;
    let to = this.#head;
    for (let from = this.#head; from < w.length; from++) {
      const item = w[from]!;
      if (typeof item !== 'number') w[to++] = item;
    }
    w.length = to;
    this.#holes = 0;
  }

  /** Moves the head over the holes behind it, and drops the spent front now and then. */
  #skipHoles(): void {
    const w = this.#items;
    while (this.#head < w.length && typeof w[this.#head] === 'number') {
      this.#head++;
      this.#holes--;
    }
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

function seqOf(item: KeyedEntry | number): number {
  return typeof item === 'number' ? item : item.seq;
}
