import { coarseMs, startCoarseClock } from '../../internal/coarse-clock.ts';
import { ConfigError, SwitchyardError } from '../../core/errors.ts';
import { CLAIMED, KeyTable, PROCESSED } from './key-table.ts';
import type { ClaimOptions, IdempotencyClaim, IdempotencyStore } from './store.ts';

/** Memory store settings. */
export interface MemoryIdempotencyOptions {
  /**
   * Most keys remembered; beyond that the oldest are forgotten first (never a claim still in
   * progress). About 40 bytes a key, allocated as keys arrive. Default 100,000.
   */
  maxKeys?: number;
  /**
   * The clock, for tests. Default: a coarse clock (at most 0.1 s behind `Date.now()`, free to read
   * per message; leases and TTLs need no finer).
   */
  now?: () => number;
}

const PROCESSED_ANSWER: IdempotencyClaim = Object.freeze({ status: 'processed' });
const BUSY_ANSWER: IdempotencyClaim = Object.freeze({ status: 'busy' });

/** A claim of one slot; the generation tells whether the slot is still this claim's. */
class MemoryClaim {
  readonly status = 'claimed';
  readonly #store: MemoryStore;
  readonly #key: string;
  readonly #scope: string | undefined;
  readonly #slot: number;
  readonly #generation: number;
  readonly #ttlMs: number;
  readonly #leaseMs: number;

  constructor(store: MemoryStore, key: string, scope: string | undefined, slot: number, generation: number, ttlMs: number, leaseMs: number) {
    this.#store = store;
    this.#key = key;
    this.#scope = scope;
    this.#slot = slot;
    this.#generation = generation;
    this.#ttlMs = ttlMs;
    this.#leaseMs = leaseMs;
  }

  renew(): boolean {
    if (!this.#holds()) return false;
    this.#store.table.until[this.#slot] = this.#store.now() + this.#leaseMs;
    return true;
  }

  complete(): void {
    const table = this.#store.table;
    const at = this.#store.now();
    let slot = this.#slot;
    if (!this.#holds()) {
      // The lease ran out and another claim took the key over, or the slot went to another key:
      // the work is done all the same, so mark the key processed wherever it is now.
      slot = table.lookup(this.#key, this.#scope);
      if (slot < 0) slot = table.add(at, PROCESSED);
      if (slot < 0) return; // every slot holds a claim in force: the key stays unmarked (at-least-once)
    }
    table.state[slot] = PROCESSED;
    table.until[slot] = at + this.#ttlMs;
  }

  async release(): Promise<void> {
    if (this.#holds()) this.#store.table.remove(this.#slot);
  }

  /** Whether the slot still holds this claim. */
  #holds(): boolean {
    const table = this.#store.table;
    return table.generation[this.#slot] === this.#generation && table.state[this.#slot] === CLAIMED;
  }
}

interface MemoryStore {
  readonly table: KeyTable;
  readonly now: () => number;
}

/**
 * Processed keys in this process's memory, with a TTL and a size bound. Guarantee: duplicates are
 * skipped while this process lives and the key is remembered; a restart forgets everything, and
 * several processes don't share it. Good for tests and single-process tools. Keys are kept as
 * 96-bit fingerprints, not strings (see `KeyTable`): a claim costs a fraction of a microsecond and
 * the garbage collector never walks them.
 *
 * @example
 * ```ts
 * router.use(idempotency({ store: memoryIdempotencyStore({ maxKeys: 50_000 }) }));
 * ```
 */
export function memoryIdempotencyStore(options: MemoryIdempotencyOptions = {}): IdempotencyStore {
  if (!options.now) startCoarseClock();
  const maxKeys = options.maxKeys ?? 100_000;
  if (!Number.isInteger(maxKeys) || maxKeys < 1) throw new ConfigError(`memoryIdempotencyStore: maxKeys must be a whole number ≥ 1, got ${String(options.maxKeys)}`);
  const store: MemoryStore = { table: new KeyTable(maxKeys), now: options.now ?? coarseMs };
  const { table, now } = store;

  // Synchronous: the middleware then spends no promise or microtask on a claim.
  const claim = (key: string, scope: string | undefined, { leaseMs, ttlMs }: ClaimOptions): IdempotencyClaim => {
    const at = now();
    let slot = table.lookup(key, scope);
    if (slot >= 0) {
      if (table.until[slot]! > at) return table.state[slot] === PROCESSED ? PROCESSED_ANSWER : BUSY_ANSWER;
      // Expired: a processed mark past its TTL, or a claim whose process gave up. Claimed anew.
      table.state[slot] = CLAIMED;
    } else {
      slot = table.add(at, CLAIMED);
      if (slot < 0) throw new SwitchyardError(`memoryIdempotencyStore: all ${maxKeys} keys are claims still in progress; raise maxKeys above the messages in flight`);
    }
    table.until[slot] = at + leaseMs;
    const generation = (table.generation[slot] = (table.generation[slot]! + 1) >>> 0);
    return new MemoryClaim(store, key, scope, slot, generation, ttlMs, leaseMs);
  };

  return {
    name: 'memory',
    claim: (key, options) => claim(key, undefined, options),
    claimScoped: (scope, key, options) => claim(key, scope, options),
    async close() {
      table.clear();
    },
  };
}
