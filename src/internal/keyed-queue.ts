import { SeqHeap } from './seq-heap.ts';

/** An entry waiting to be handled: its position in the stream and its ordering key. */
export interface KeyedEntry {
  readonly seq: number;
  readonly key: string;
}

/** Spent slots at the front of a Line are dropped once there are this many and they are half of it. */
const COMPACT_AT = 1_024;

/** Entries in seq order: an array with a moving front. */
class Line<E extends KeyedEntry> {
  #items: E[];
  #head = 0;

  constructor(first?: E) {
    this.#items = first ? [first] : [];
  }

  get last(): E | undefined {
    return this.#items[this.#items.length - 1];
  }

  get first(): E | undefined {
    return this.#items[this.#head];
  }

  get empty(): boolean {
    return this.#head === this.#items.length;
  }

  /** Adds an entry known to come after every other. */
  append(entry: E): void {
    this.#items.push(entry);
  }

  /** Adds `entry` in seq order; true when it is now the first. */
  insert(entry: E): boolean {
    const w = this.#items;
    if (this.#head === w.length || w[w.length - 1]!.seq < entry.seq) {
      w.push(entry);
      return w.length - 1 === this.#head;
    }
    // A redelivery: it goes back before the later entries of its key, usually at the front.
    if (entry.seq < w[this.#head]!.seq && this.#head > 0) {
      w[--this.#head] = entry;
      return true;
    }
    let lo = this.#head;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w[mid]!.seq < entry.seq) lo = mid + 1;
      else hi = mid;
    }
    w.splice(lo, 0, entry);
    return lo === this.#head;
  }

  /** Drops the first entry. */
  shift(): void {
    const w = this.#items;
    w[this.#head++] = undefined as unknown as E; // let it be collected
    if (this.#head === w.length) {
      w.length = 0;
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= w.length) {
      w.copyWithin(0, this.#head);
      w.length -= this.#head;
      this.#head = 0;
    }
  }

  entries(): E[] {
    return this.#items.slice(this.#head);
  }

  clear(): void {
    this.#items.length = 0;
    this.#head = 0;
  }
}

/**
 * Messages waiting for a handler, released so that no two with the same key are ever in flight
 * at once and each key's messages go out in stream order, while other keys overtake a busy one.
 * An empty key means "no ordering": such entries are never held back.
 *
 * Each key keeps its waiting entries apart. What may go now — unkeyed entries, and the first
 * entry of every key not in flight — sits in a FIFO when it was ready on arrival (the usual case,
 * O(1)) or in a min-heap by seq when it became ready later (its key released, or a redelivery);
 * `take` gives the lower of the two fronts, so the oldest entry that may go at O(log keys),
 * whatever waits behind busy keys. (A single array scanned from the front walked past every
 * entry of busy keys on every take: with one hot key and a deep read-ahead, that was a scan of
 * the whole queue per message.) An item whose key went meanwhile, or that a redelivered entry
 * overtook, is dropped when it comes up: validity is checked on the way out.
 */
export class KeyedQueue<E extends KeyedEntry> {
  /** Entries ready when they arrived, in seq order: the usual case, at O(1). */
  readonly #arrived = new Line<E>();
  /** Entries that became ready later (their key was released) or arrived out of order (redeliveries). */
  readonly #ready = new SeqHeap<E>();
  /** Keys in flight or with entries waiting (one map lookup per step, not one per set). */
  readonly #keys = new Map<string, KeyState<E>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds an entry in stream order (a redelivered entry goes back before later ones). */
  push(entry: E): void {
    this.#size++;
    const key = entry.key;
    if (key === '') {
      this.#makeReady(entry);
      return;
    }
    const state = this.#keys.get(key);
    let first: boolean;
    if (state === undefined) {
      this.#keys.set(key, { busy: false, waiting: entry });
      first = true;
    } else if (state.waiting === undefined) {
      state.waiting = entry;
      first = true;
    } else if (state.waiting instanceof Line) {
      first = state.waiting.insert(entry);
    } else {
      const line = new Line(state.waiting);
      state.waiting = line;
      first = line.insert(entry);
    }
    if (first && (state === undefined || !state.busy)) this.#makeReady(entry);
  }

  #makeReady(entry: E): void {
    const last = this.#arrived.last;
    if (last === undefined || last.seq < entry.seq) this.#arrived.append(entry);
    else this.#ready.push(entry);
  }

  /** Removes and returns the ready entry of lowest seq (it may be stale: see take). */
  #next(): E | undefined {
    const arrived = this.#arrived.first;
    const ready = this.#ready.peek();
    if (arrived !== undefined && (ready === undefined || arrived.seq < ready.seq)) {
      this.#arrived.shift();
      return arrived;
    }
    return this.#ready.pop();
  }

  /** Takes the first entry whose key is not in flight and marks its key busy; undefined if none. */
  take(): E | undefined {
    for (let entry = this.#next(); entry !== undefined; entry = this.#next()) {
      if (entry.key !== '') {
        const state = this.#keys.get(entry.key);
        if (state === undefined || state.busy) continue;
        const waiting = state.waiting;
        if (waiting === entry) state.waiting = undefined;
        else if (waiting instanceof Line && waiting.first === entry) {
          waiting.shift();
          if (waiting.empty) state.waiting = undefined;
        } else continue;
        state.busy = true;
      }
      this.#size--;
      return entry;
    }
    return undefined;
  }

  /** The entry's handler settled: its key may go again. */
  release(entry: E): void {
    if (entry.key === '') return;
    const state = this.#keys.get(entry.key);
    if (state === undefined || !state.busy) return;
    state.busy = false;
    const waiting = state.waiting;
    if (waiting === undefined) this.#keys.delete(entry.key);
    else this.#makeReady(waiting instanceof Line ? waiting.first! : waiting);
  }

  /** Removes and returns every waiting entry, in seq order (on close, to hand back to the broker). */
  drain(): E[] {
    // A keyed entry in the fronts is also held by its key's state (listed below); take only the unkeyed ones here.
    const all = [...this.#arrived.entries(), ...this.#ready.items].filter((e) => e.key === '');
    for (const [key, state] of this.#keys) {
      const waiting = state.waiting;
      if (waiting instanceof Line) for (const entry of waiting.entries()) all.push(entry);
      else if (waiting !== undefined) all.push(waiting);
      state.waiting = undefined;
      if (!state.busy) this.#keys.delete(key);
    }
    this.#arrived.clear();
    this.#ready.clear();
    this.#size = 0;
    return all.sort((a, b) => a.seq - b.seq);
  }
}

/** A key in flight or with entries waiting: the entry itself while it has one (most keys, most of the time), else a Line. */
interface KeyState<E extends KeyedEntry> {
  busy: boolean;
  waiting: E | Line<E> | undefined;
}
