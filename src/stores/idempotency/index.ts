/**
 * Idempotency stores without dependencies. The PostgreSQL, Redis and embedded ones are in their
 * subpaths (`switchyard/postgres`, `switchyard/redis`, `switchyard/embedded`): the root export
 * re-exports this file and stays free of broker code.
 */
export type { ClaimOptions, IdempotencyClaim, IdempotencyStore } from './store.ts';
export { memoryIdempotencyStore, type MemoryIdempotencyOptions } from './memory.ts';
