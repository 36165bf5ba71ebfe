import { ConcurrencyError } from '../core/errors.ts';
import { bodyOf, recordOf, type SagaMeta } from './record-body.ts';
import { UNFINISHED_STATUSES, type Lease, type NewSagaRecord, type SagaQuery, type SagaRecord, type SagaStore } from './saga-store.ts';
import { checkSagaQuery } from './check-saga-query.ts';

/** Memory saga store settings. */
export interface MemorySagaStoreOptions {
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}


interface Entry {
  meta: SagaMeta;
  /** JSON of everything else: what cannot be serialised fails here, as it would in a database. */
  body: string;
}


/**
 * Saga instances in this process's memory. Every guarantee of the interface holds within the
 * process (several orchestrators may share one store); a restart forgets everything. For tests,
 * examples and benchmarks.
 *
 * @example
 * ```ts
 * const orchestrator = new SagaOrchestrator({ store: memorySagaStore(), sagas: [fulfillment] });
 * ```
 */
export function memorySagaStore(options: MemorySagaStoreOptions = {}): SagaStore {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();


  const free = (m: SagaMeta, owner: string): boolean =>
    UNFINISHED_STATUSES.includes(m.status) && (m.owner === undefined || m.owner === owner || (m.leaseUntil ?? 0) < now());

  const take = (e: Entry, lease: Lease): SagaRecord => {
    e.meta = { ...e.meta, version: e.meta.version + 1, owner: lease.owner, leaseUntil: now() + lease.ms, updatedAt: now() };
    return recordOf(e);
  };

  return {
    name: 'memory',
    async create(record: NewSagaRecord, lease?: Lease) {
      const existing = entries.get(record.id);
      if (existing) throw new ConcurrencyError(`saga ${record.id} already exists`, 0, existing.meta.version);
      const at = now();
      const meta: SagaMeta = {
        id: record.id,
        saga: record.saga,
        status: record.status,
        version: 1,
        createdAt: at,
        updatedAt: at,
        ...(lease ? { owner: lease.owner, leaseUntil: at + lease.ms } : {}),
      };
      const entry = { meta, body: bodyOf(record) };
      entries.set(record.id, entry);
      return recordOf(entry);
    },
    async get(id) {
      const e = entries.get(id);
      return e && recordOf(e);
    },
    async update(record, lease) {
      const current = entries.get(record.id);
      if (!current || current.meta.version !== record.version) {
        throw new ConcurrencyError(`saga ${record.id}`, record.version, current?.meta.version ?? 'none');
      }
      const body = bodyOf(record);
      const at = now();
      const meta: SagaMeta = {
        id: record.id,
        saga: current.meta.saga,
        status: record.status,
        version: current.meta.version + 1,
        createdAt: current.meta.createdAt,
        updatedAt: at,
        ...(lease ? { owner: lease.owner, leaseUntil: at + lease.ms } : record.owner === undefined ? {} : { owner: record.owner }),
      };
      current.meta = meta;
      current.body = body;
      // The caller's own fields with the new metadata: what is stored is the JSON, so the caller
      // changing its objects later changes nothing here.
      const { owner: _o, leaseUntil: _l, ...rest } = record;
      return { ...rest, ...meta };
    },
    async acquire(id, lease) {
      const e = entries.get(id);
      return e && free(e.meta, lease.owner) ? take(e, lease) : undefined;
    },
    async claim(lease, limit, filter = {}) {
      return [...entries.values()]
        .filter((e) => free(e.meta, lease.owner) && (!filter.sagas || filter.sagas.includes(e.meta.saga)) && !filter.exclude?.includes(e.meta.id))
        .toSorted((a, b) => a.meta.updatedAt - b.meta.updatedAt)
        .slice(0, limit)
        .map((e) => take(e, lease));
    },
    async renew(ids, lease) {
      const held: string[] = [];
      for (const id of ids) {
        const e = entries.get(id);
        if (e && e.meta.owner === lease.owner) {
          e.meta = { ...e.meta, leaseUntil: now() + lease.ms };
          held.push(id);
        }
      }
      return held;
    },
    async list(query: SagaQuery = {}) {
      checkSagaQuery('memory', query);
      const limit = query.limit ?? 100;
      const offset = query.offset ?? 0;
      return [...entries.values()]
        .filter((e) => (!query.status || query.status.includes(e.meta.status)) && (!query.saga || e.meta.saga === query.saga))
        .toSorted((a, b) => b.meta.createdAt - a.meta.createdAt || (a.meta.id < b.meta.id ? 1 : -1))
        .slice(offset, offset + limit)
        .map(recordOf);
    },
    async close() {},
  };
}
