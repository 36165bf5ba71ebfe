import { coarseMs, startCoarseClock } from '../../internal/coarse-clock.ts';
import type { ClaimOptions, IdempotencyClaim, IdempotencyStore } from './store.ts';

/** Memory store settings. */
export interface MemoryIdempotencyOptions {
  /** Most keys remembered; the oldest processed ones are forgotten first. Default 100,000. */
  maxKeys?: number;
  /**
   * The clock, for tests. Default: a coarse clock (at most 0.1 s behind `Date.now()`, free to read
   * per message; leases and TTLs need no finer).
   */
  now?: () => number;
}

const PROCESSED: IdempotencyClaim = Object.freeze({ status: 'processed' });
const BUSY: IdempotencyClaim = Object.freeze({ status: 'busy' });

/**
 * One store's keys. A key being processed maps to its claim (identity tells claims of one key
 * apart: one whose lease expired and was taken over is no longer "mine"); a processed key maps to
 * the end of its TTL as a plain number, relative to `base` so that it usually stays a small
 * integer: most keys are processed ones, and they then cost no object of their own.
 */
class Keys {
  readonly map = new Map<string, MemoryClaim | number>();
  readonly maxKeys: number;
  readonly now: () => number;
  readonly base: number;
  /** The claim that inserted the map's newest key (undefined: unknown), so it is already in completion order. */
  last: MemoryClaim | undefined;

  constructor(maxKeys: number, now: () => number) {
    this.maxKeys = maxKeys;
    this.now = now;
    this.base = now();
  }

  until(value: MemoryClaim | number): number {
    return typeof value === 'number' ? value + this.base : value.until;
  }

  evict(): void {
    const map = this.map;
    if (map.size <= this.maxKeys) return;
    for (const [key, value] of map) {
      if (map.size <= this.maxKeys) return;
      // Insertion order is completion order for processed keys: oldest first. Never drop live claims.
      if (typeof value === 'number' || value.until <= this.now()) map.delete(key);
    }
  }
}

class MemoryClaim {
  readonly status = 'claimed';
  readonly until: number;
  readonly #keys: Keys;
  readonly #key: string;
  readonly #ttlMs: number;

  constructor(keys: Keys, key: string, until: number, ttlMs: number) {
    this.#keys = keys;
    this.#key = key;
    this.until = until;
    this.#ttlMs = ttlMs;
  }

  complete(): void {
    const keys = this.#keys;
    // Processed keys are kept in completion order: move the key to the end, unless nothing was
    // inserted since this claim's (then it is the newest already, or absent and added at the end).
    if (keys.last !== this) {
      keys.map.delete(this.#key);
      keys.last = this;
    }
    keys.map.set(this.#key, keys.now() + this.#ttlMs - keys.base);
    keys.evict();
  }

  async release(): Promise<void> {
    if (this.#keys.map.get(this.#key) === this) this.#keys.map.delete(this.#key);
  }
}

/**
 * Processed keys in this process's memory, with a TTL and a size bound. Guarantee: duplicates are
 * skipped while this process lives and the key is remembered; a restart forgets everything, and
 * several processes don't share it. Good for tests and single-process tools.
 *
 * @example
 * ```ts
 * router.use(idempotency({ store: memoryIdempotencyStore({ maxKeys: 50_000 }) }));
 * ```
 */
export function memoryIdempotencyStore(options: MemoryIdempotencyOptions = {}): IdempotencyStore {
  if (!options.now) startCoarseClock();
  const keys = new Keys(options.maxKeys ?? 100_000, options.now ?? coarseMs);
  const map = keys.map;

  return {
    name: 'memory',
    // Synchronous: the middleware then spends no promise or microtask on a claim.
    claim(key: string, { leaseMs, ttlMs }: ClaimOptions): IdempotencyClaim {
      const existing = map.get(key);
      if (existing !== undefined) {
        if (keys.until(existing) > keys.now()) return typeof existing === 'number' ? PROCESSED : BUSY;
        map.delete(key);
      }
      const claim = new MemoryClaim(keys, key, keys.now() + leaseMs, ttlMs);
      map.set(key, claim);
      keys.last = claim;
      keys.evict();
      return claim;
    },
    async close() {
      map.clear();
      keys.last = undefined;
    },
  };
}
