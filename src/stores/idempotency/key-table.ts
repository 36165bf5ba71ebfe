import { getRandomValues } from 'node:crypto';

/** A slot's state. */
export const EMPTY = 0;
export const CLAIMED = 1;
export const PROCESSED = 2;

/** Slots allocated at first; the table doubles up to its capacity as keys arrive. */
const INITIAL_SLOTS = 1_024;

/**
 * The keys of the memory idempotency store, held without a JavaScript object per key.
 *
 * A `Map` of 100,000 string keys cost about a microsecond per message — more than the rest of a
 * router's delivery — mostly in the garbage collector: every key is a young string that an
 * old-generation map keeps alive, so each scavenge copies it. Here a key is remembered by a
 * 96-bit fingerprint (three independent 32-bit hashes, seeded per table) in typed arrays, which
 * the collector never looks into. Two keys are taken for one only if all three hashes agree: at
 * 100,000 keys, for uniform hashes, a chance of the order of 10^-24 per new key. These are plain
 * non-cryptographic hashes (measured within a small factor of uniform on sequential and id-like
 * keys), so a colliding key could be crafted — by someone who could as well publish the id itself.
 *
 * Slots form a ring in insertion order; a new key takes the next slot, evicting the key there
 * (the oldest) unless it is a claim still in force. An open-addressing index (linear probing,
 * at most half full) maps fingerprints to slots.
 */
export class KeyTable {
  /** Most slots: the store's `maxKeys`. */
  readonly capacity: number;
  state: Uint8Array;
  /** Until when (ms) a claim holds or a processed mark lasts. */
  until: Float64Array;
  /** Bumped by every claim of a slot, so a claim can tell whether the slot is still its own. */
  generation: Uint32Array;
  #h1: Int32Array;
  #h2: Int32Array;
  #h3: Int32Array;
  /**
   * Per index position two numbers, side by side so one cache line holds both: slot + 1 (0 when
   * the position is free) and the key's first hash, checked before the slot's arrays are touched.
   */
  #index: Int32Array;
  #mask: number;
  /** Next slot to fill (the oldest key, once the ring is full). */
  #head = 0;
  readonly #seeds = getRandomValues(new Int32Array(3));
  /** The fingerprint of the last `lookup`. */
  #a = 0;
  #b = 0;
  #c = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    const slots = Math.min(capacity, INITIAL_SLOTS);
    this.state = new Uint8Array(slots);
    this.until = new Float64Array(slots);
    this.generation = new Uint32Array(slots);
    this.#h1 = new Int32Array(slots);
    this.#h2 = new Int32Array(slots);
    this.#h3 = new Int32Array(slots);
    this.#index = new Int32Array(2 * indexSize(slots));
    this.#mask = indexSize(slots) - 1;
  }

  /**
   * The slot holding `key` — or, with `scope`, the key `${scope}:${key}`, found without building
   * that string — or -1. Remembers the key's fingerprint for an `add()` right after.
   */
  lookup(key: string, scope?: string): number {
    this.#fingerprint(key, scope);
    const index = this.#index;
    const mask = this.#mask;
    const a = this.#a;
    let i = a & mask;
    for (let entry = index[2 * i]!; entry !== 0; i = (i + 1) & mask, entry = index[2 * i]!) {
      if (index[2 * i + 1] !== a) continue;
      const slot = entry - 1;
      if (this.#h2[slot] === this.#b && this.#h3[slot] === this.#c) return slot;
    }
    return -1;
  }

  /**
   * Adds the key the last `lookup` did not find, in `state` (CLAIMED or PROCESSED; the caller sets
   * `until`), evicting the oldest key whose claim is not in force at `now`, and returns its slot.
   * Returns -1 when every slot holds a claim in force.
   */
  add(now: number, state: typeof CLAIMED | typeof PROCESSED): number {
    const slot = this.#takeSlot(now);
    if (slot < 0) return -1;
    this.state[slot] = state;
    // Where the lookup stopped may have moved (eviction shifts entries, growth rebuilds): probe again.
    this.#place(slot, this.#a);
    this.#h1[slot] = this.#a;
    this.#h2[slot] = this.#b;
    this.#h3[slot] = this.#c;
    return slot;
  }

  /** Forgets the key in `slot`. */
  remove(slot: number): void {
    if (this.state[slot] === EMPTY) return;
    this.state[slot] = EMPTY;
    const index = this.#index;
    const mask = this.#mask;
    let i = this.#h1[slot]! & mask;
    while (index[2 * i] !== slot + 1) i = (i + 1) & mask;
    // Backward-shift deletion: later entries of the probe run move up, so lookups never stop at a hole.
    for (let j = (i + 1) & mask; index[2 * j] !== 0; j = (j + 1) & mask) {
      const home = index[2 * j + 1]! & mask;
      const stays = i < j ? home > i && home <= j : home > i || home <= j;
      if (stays) continue;
      index[2 * i] = index[2 * j]!;
      index[2 * i + 1] = index[2 * j + 1]!;
      i = j;
    }
    index[2 * i] = 0;
  }

  /** Forgets every key. */
  clear(): void {
    this.state.fill(EMPTY);
    this.#index.fill(0);
    this.#head = 0;
  }

  #takeSlot(now: number): number {
    const start = this.#head;
    const slots = this.state.length;
    for (let tried = 0; tried < slots; tried++) {
      if (this.#head === this.state.length) {
        if (this.state.length < this.capacity) this.#grow();
        else this.#head = 0;
      }
      const slot = this.#head++;
      const state = this.state[slot];
      if (state === EMPTY) return slot;
      if (state === CLAIMED && this.until[slot]! > now) continue; // never drop a claim in force
      this.remove(slot);
      return slot;
    }
    this.#head = start; // nothing evictable: the oldest stays the next to go
    return -1;
  }

  /** Doubles the slots (up to capacity) and rebuilds the index for them. */
  #grow(): void {
    const slots = Math.min(this.capacity, this.state.length * 2);
    const grown = <T extends Uint8Array | Float64Array | Uint32Array | Int32Array>(from: T, make: new (n: number) => T): T => {
      const to = new make(slots);
      to.set(from);
      return to;
    };
    this.state = grown(this.state, Uint8Array);
    this.until = grown(this.until, Float64Array);
    this.generation = grown(this.generation, Uint32Array);
    this.#h1 = grown(this.#h1, Int32Array);
    this.#h2 = grown(this.#h2, Int32Array);
    this.#h3 = grown(this.#h3, Int32Array);
    this.#index = new Int32Array(2 * indexSize(slots));
    this.#mask = indexSize(slots) - 1;
    for (let slot = 0; slot < this.#head; slot++) {
      if (this.state[slot] !== EMPTY) this.#place(slot, this.#h1[slot]!);
    }
  }

  /** Enters `slot`, whose first hash is `h1`, at the first free position of its probe run. */
  #place(slot: number, h1: number): void {
    const index = this.#index;
    const mask = this.#mask;
    let i = h1 & mask;
    while (index[2 * i] !== 0) i = (i + 1) & mask;
    index[2 * i] = slot + 1;
    index[2 * i + 1] = h1;
  }

  /**
   * Three 32-bit hashes of the key's UTF-16 code units, two per step, each lane with its own seed
   * and multiplier and a final avalanche (the finaliser of MurmurHash3). With a scope, the units
   * are those of `${scope}:${key}`: a scoped lookup finds what the joined key was stored under.
   * (Joining them per message costs more than the hashing: charCodeAt on the joined string makes
   * V8 copy it into a flat one first.)
   */
  #fingerprint(key: string, scope: string | undefined): void {
    const seeds = this.#seeds;
    let a = seeds[0]!;
    let b = seeds[1]!;
    let c = seeds[2]!;
    const cut = scope === undefined ? 0 : scope.length + 1;
    const n = cut + key.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const k = unitAt(scope, cut, key, i) | (unitAt(scope, cut, key, i + 1) << 16);
      a = Math.imul(a ^ k, 0x01000193);
      a ^= a >>> 15;
      b = Math.imul(b ^ k, 0x5bd1e995);
      b ^= b >>> 13;
      c = Math.imul(c ^ k, 0x27d4eb2d);
      c ^= c >>> 16;
    }
    if (i < n) {
      const k = unitAt(scope, cut, key, i);
      a = Math.imul(a ^ k, 0x01000193);
      b = Math.imul(b ^ k, 0x5bd1e995);
      c = Math.imul(c ^ k, 0x27d4eb2d);
    }
    this.#a = avalanche(a ^ n);
    this.#b = avalanche(b ^ n);
    this.#c = avalanche(c ^ n);
  }
}

const COLON = 0x3a;

/** Code unit `i` of `${scope}:${key}` (of `key` alone when `cut` is 0), `cut` being the scope's length + 1. */
function unitAt(scope: string | undefined, cut: number, key: string, i: number): number {
  if (i >= cut) return key.charCodeAt(i - cut);
  return i === cut - 1 ? COLON : scope!.charCodeAt(i);
}

function avalanche(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Index positions for `slots` keys: a power of two, at least twice as many. */
function indexSize(slots: number): number {
  let size = 2;
  while (size < slots * 2) size *= 2;
  return size;
}
