/** Idempotency stores without dependencies (PostgreSQL and Redis ones are in their subpaths). */
export type { ClaimOptions, IdempotencyClaim, IdempotencyStore } from './store.ts';
export { memoryIdempotencyStore, type MemoryIdempotencyOptions } from './memory.ts';
