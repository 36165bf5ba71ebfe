import type { NewSagaRecord, SagaRecord } from './saga-store.ts';

/**
 * How saga stores keep a record: the fields a database would index (`SagaMeta`) apart, and the
 * rest as JSON text — so what cannot be serialised fails on write, as it would in a database.
 */
export interface SagaMeta {
  id: string;
  saga: string;
  status: SagaRecord['status'];
  version: number;
  owner?: string;
  leaseUntil?: number;
  createdAt: number;
  updatedAt: number;
}

/** The JSON of everything in a record but its indexed fields. */
export function bodyOf(record: NewSagaRecord | SagaRecord): string {
  const { id: _i, saga: _s, status: _st, version: _v, owner: _o, leaseUntil: _l, createdAt: _c, updatedAt: _u, ...rest } = record as SagaRecord;
  return JSON.stringify(rest);
}

/** The record again from its indexed fields and JSON body. */
export function recordOf(stored: { meta: SagaMeta; body: string }): SagaRecord {
  return { ...(JSON.parse(stored.body) as object), ...stored.meta } as SagaRecord;
}
