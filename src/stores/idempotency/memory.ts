import { randomUUID } from 'node:crypto';
import type { ClaimOptions, IdempotencyClaim, IdempotencyStore } from './store.ts';

/** Memory store settings. */
export interface MemoryIdempotencyOptions {
  /** Most keys remembered; the oldest processed ones are forgotten first. Default 100,000. */
  maxKeys?: number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

type Entry = { state: 'processing'; token: string; until: number } | { state: 'done'; until: number };

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
  const maxKeys = options.maxKeys ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();

  const evict = (): void => {
    if (entries.size <= maxKeys) return;
    for (const [key, entry] of entries) {
      if (entries.size <= maxKeys) return;
      // Insertion order is completion order for done keys: oldest first. Never drop live claims.
      if (entry.state === 'done' || entry.until <= now()) entries.delete(key);
    }
  };

  return {
    name: 'memory',
    async claim(key: string, { leaseMs, ttlMs }: ClaimOptions): Promise<IdempotencyClaim> {
      const existing = entries.get(key);
      if (existing && existing.until > now()) return { status: existing.state === 'done' ? 'processed' : 'busy' };
      const token = randomUUID();
      entries.delete(key);
      entries.set(key, { state: 'processing', token, until: now() + leaseMs });
      evict();
      const mine = (): boolean => {
        const e = entries.get(key);
        return e?.state === 'processing' && e.token === token;
      };
      return {
        status: 'claimed',
        async complete() {
          entries.delete(key);
          entries.set(key, { state: 'done', until: now() + ttlMs });
          evict();
        },
        async release() {
          if (mine()) entries.delete(key);
        },
      };
    },
    async close() {
      entries.clear();
    },
  };
}
