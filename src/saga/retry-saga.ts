import { ConfigError } from '../core/errors.ts';
import type { Lease, SagaRecord, SagaStore } from './saga-store.ts';

/**
 * The retry command: puts a `compensation_failed` instance back to `compensating` with no owner,
 * so an orchestrator that runs its saga resumes it (at its next recovery scan, or at once through
 * `orchestrator.retry(id)`), starting with the compensation that failed. Works on the store
 * alone, so a CLI can issue it. Rejects with ConfigError for an unknown id or another status, and
 * with ConcurrencyError if the instance changed meanwhile. With `lease`, the instance is leased
 * to its owner instead (in the same write), for the caller to drive it.
 *
 * @example
 * ```ts
 * await retrySaga(postgresSagaStore({ pool }), 'saga-order-12345');
 * ```
 */
export async function retrySaga(store: SagaStore, id: string, lease?: Lease): Promise<SagaRecord> {
  const record = await store.get(id);
  if (!record) throw new ConfigError(`no saga with id ${JSON.stringify(id)}`);
  if (record.status !== 'compensation_failed') {
    throw new ConfigError(`saga ${id} is ${record.status}; only compensation_failed sagas can be retried`);
  }
  // Its saga.compensation.failed went out before it settled: nothing is left for recovery to re-publish.
  return store.update({ ...record, status: 'compensating', owner: undefined, lastEvent: undefined }, lease);
}
