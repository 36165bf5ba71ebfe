import type { RouterContext } from '../../router/types.ts';

/** How long a claim and a processed mark last. */
export interface ClaimOptions {
  /**
   * How long a claim protects a key while its handler runs, in ms. If the process dies, another
   * may claim the key after this. Stores that hold a database transaction ignore it.
   */
  leaseMs: number;
  /** How long a key stays "processed" once completed, in ms. */
  ttlMs: number;
}

/** The result of `claim`: the key was processed already, is being processed, or is now yours. */
export type IdempotencyClaim =
  | { readonly status: 'processed' }
  | { readonly status: 'busy' }
  | {
      readonly status: 'claimed';
      /** Makes store resources available to the handler (the PostgreSQL transaction). */
      attach?(ctx: RouterContext): void;
      /** Marks the key processed (commits the transaction, for transactional stores). May finish at once (memory). */
      complete(): Promise<void> | void;
      /** Gives the key up after a failure, so a later delivery processes it (rolls back). */
      release(): Promise<void>;
      /**
       * Optional, for stores whose claim is a lease: extends the claim by its `leaseMs` from now,
       * atomically and only if the key is still claimed by this claim. Returns false when it is
       * not (the lease ran out and another consumer took the key, or it was completed or
       * released). The middleware calls it while a handler outlives part of its lease, so a
       * long handler keeps its key; a store without it (a transaction's row lock) never expires.
       */
      renew?(): Promise<boolean> | boolean;
    };

/**
 * Where the idempotency middleware remembers processed keys. `claim` is atomic: of concurrent
 * claims of one key, at most one gets `claimed` until it completes or releases (or its lease
 * expires); the others get `busy` or, once it completed, `processed`. Transactional stores may
 * instead make the later claim wait for the first to finish.
 *
 * Every implementation runs `describeStore` from `switchyard/testing`.
 */
export interface IdempotencyStore {
  /** Short name for logs: `memory`, `redis`, `postgres`. */
  readonly name: string;
  /** Claims `key`. A store that answers at once (memory) may return the claim itself, not a promise. */
  claim(key: string, options: ClaimOptions): Promise<IdempotencyClaim> | IdempotencyClaim;
  /**
   * Optional: claims the key `${scope}:${key}` — exactly as `claim` would — without the caller
   * joining the two strings per message. The middleware uses it for its default key (group and
   * message id) when a store has it; the memory store does, where joining them cost more than
   * the claim.
   */
  claimScoped?(scope: string, key: string, options: ClaimOptions): Promise<IdempotencyClaim> | IdempotencyClaim;
  /** Releases connections the store opened itself (not ones it was given). */
  close(): Promise<void>;
}
