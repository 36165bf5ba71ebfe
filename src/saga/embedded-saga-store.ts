import { ConcurrencyError } from '../core/errors.ts';
import type { NormalizedMessage } from '../core/message.ts';
import type { StoredRecord } from '../transports/embedded/record.ts';
import { isTombstone, StoreLog, type StoreLogOptions } from '../transports/embedded/store-log.ts';
import { bodyOf, recordOf, type SagaMeta } from './record-body.ts';
import { UNFINISHED_STATUSES, type Lease, type NewSagaRecord, type SagaQuery, type SagaRecord, type SagaStore } from './saga-store.ts';
import { checkSagaQuery } from './check-saga-query.ts';

/** Embedded saga store settings: `dir` (a directory of its own) or `transport` (a topic of an embedded broker). */
export interface EmbeddedSagaStoreOptions extends StoreLogOptions {
  /** With `transport`: the compacted topic holding the instances. Default `switchyard.sagas`. */
  topic?: string;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** An embedded saga store; `compact()` drops superseded records now (a timer does it too). */
export interface EmbeddedSagaStore extends SagaStore {
  /** Rewrites closed segments without the records later writes superseded; returns how many. */
  compact(): Promise<number>;
}


/** One stored state of an instance. Never changed once made: every write makes a new one. */
interface Entry {
  readonly meta: SagaMeta;
  readonly body: string;
  /** Write order in this process, so an older write completing never hides a newer one. */
  readonly seq: number;
}

const META_HEADER = 'saga-meta';
const DEFAULT_TOPIC = 'switchyard.sagas';



function toMessage(e: Entry): NormalizedMessage {
  return { id: '', key: e.meta.id, payload: Buffer.from(e.body), headers: { [META_HEADER]: JSON.stringify(e.meta) }, timestamp: e.meta.updatedAt };
}

/**
 * The store: instances indexed in memory, every write appended to the log (one record per
 * instance state, keyed by saga id, the latest wins) and acknowledged once durable.
 */
class EmbeddedSagaStoreImpl implements EmbeddedSagaStore {
  readonly name = 'embedded';
  readonly #now: () => number;
  readonly #opening: Promise<StoreLog> | undefined;
  #log: StoreLog | undefined;
  /** Every instance with its newest state, writes still being made durable included: what checks see. */
  readonly #latest = new Map<string, Entry>();
  /** Every instance with its newest durable state: what reads return. */
  readonly #visible = new Map<string, Entry>();
  /** Instances with a write being made durable: settles (never rejects) once the newest one is, or failed. */
  readonly #writing = new Map<string, Promise<void>>();
  #seq = 0;

  constructor(options: EmbeddedSagaStoreOptions) {
    StoreLog.validate('embeddedSagaStore', options, DEFAULT_TOPIC);
    this.#now = options.now ?? Date.now;
    if (options.dir !== undefined) this.#opened(StoreLog.openDir('embeddedSagaStore', { ...options, dir: options.dir }, 'sagas'));
    else {
      this.#opening = StoreLog.openTopic('embeddedSagaStore', { ...options, transport: options.transport! }, options.topic ?? DEFAULT_TOPIC).then((log) => this.#opened(log));
      this.#opening.catch(() => undefined);
    }
  }

  #opened(log: StoreLog): StoreLog {
    log.scan((record: StoredRecord) => {
      if (isTombstone(record)) {
        this.#latest.delete(record.key);
        this.#visible.delete(record.key);
        return;
      }
      const entry: Entry = { meta: JSON.parse(record.headers[META_HEADER]!) as SagaMeta, body: Buffer.from(record.payload).toString('utf8'), seq: ++this.#seq };
      this.#latest.set(record.key, entry);
      this.#visible.set(record.key, entry);
    });
    this.#log = log;
    return log;
  }

  async #ready(): Promise<StoreLog> {
    return this.#log ?? (await this.#opening!);
  }

  /**
   * Makes `entries` the newest state of their instances (checks see it at once) and resolves
   * once they are durable (reads see them from then on). On a failed write the instances go back
   * to their last durable state.
   */
  async #write(log: StoreLog, entries: Entry[]): Promise<void> {
    const made = Promise.withResolvers<void>();
    for (const e of entries) {
      this.#latest.set(e.meta.id, e);
      this.#writing.set(e.meta.id, made.promise);
    }
    try {
      await log.append(entries.map(toMessage));
      for (const e of entries) {
        if ((this.#visible.get(e.meta.id)?.seq ?? -1) < e.seq) this.#visible.set(e.meta.id, e);
      }
    } catch (error) {
      for (const e of entries) {
        if (this.#latest.get(e.meta.id) !== e) continue;
        const durable = this.#visible.get(e.meta.id);
        if (durable) this.#latest.set(e.meta.id, durable);
        else this.#latest.delete(e.meta.id);
      }
      throw error;
    } finally {
      for (const e of entries) if (this.#writing.get(e.meta.id) === made.promise) this.#writing.delete(e.meta.id);
      made.resolve();
    }
  }

  #entry(meta: SagaMeta, body: string): Entry {
    return { meta, body, seq: ++this.#seq };
  }

  #free(m: SagaMeta, owner: string): boolean {
    return UNFINISHED_STATUSES.includes(m.status) && (m.owner === undefined || m.owner === owner || (m.leaseUntil ?? 0) < this.#now());
  }

  #take(e: Entry, lease: Lease): Entry {
    const at = this.#now();
    return this.#entry({ ...e.meta, version: e.meta.version + 1, owner: lease.owner, leaseUntil: at + lease.ms, updatedAt: at }, e.body);
  }

  async create(record: NewSagaRecord, lease?: Lease): Promise<SagaRecord> {
    const log = await this.#ready();
    const existing = this.#latest.get(record.id);
    if (existing) throw new ConcurrencyError(`saga ${record.id} already exists`, 0, existing.meta.version);
    const at = this.#now();
    const meta: SagaMeta = {
      id: record.id,
      saga: record.saga,
      status: record.status,
      version: 1,
      createdAt: at,
      updatedAt: at,
      ...(lease ? { owner: lease.owner, leaseUntil: at + lease.ms } : {}),
    };
    const entry = this.#entry(meta, bodyOf(record));
    await this.#write(log, [entry]);
    return recordOf(entry);
  }

  async get(id: string): Promise<SagaRecord | undefined> {
    await this.#ready();
    // A write of the instance being made durable (fsync takes milliseconds) is waited for: a
    // caller that lost a compare-and-set to it must read what beat it. Reading the state before
    // it, the caller would lose again on every try, however often it read again.
    await this.#writing.get(id);
    const e = this.#visible.get(id);
    return e && recordOf(e);
  }

  async update(record: SagaRecord, lease?: Lease): Promise<SagaRecord> {
    const log = await this.#ready();
    const current = this.#latest.get(record.id);
    if (!current || current.meta.version !== record.version) {
      throw new ConcurrencyError(`saga ${record.id}`, record.version, current?.meta.version ?? 'none');
    }
    const at = this.#now();
    const meta: SagaMeta = {
      id: record.id,
      saga: current.meta.saga,
      status: record.status,
      version: current.meta.version + 1,
      createdAt: current.meta.createdAt,
      updatedAt: at,
      ...(lease ? { owner: lease.owner, leaseUntil: at + lease.ms } : record.owner === undefined ? {} : { owner: record.owner }),
    };
    // Serialised now: the caller changing its objects later changes nothing stored.
    await this.#write(log, [this.#entry(meta, bodyOf(record))]);
    const { owner: _o, leaseUntil: _l, ...rest } = record;
    return { ...rest, ...meta };
  }

  async acquire(id: string, lease: Lease): Promise<SagaRecord | undefined> {
    const log = await this.#ready();
    const e = this.#latest.get(id);
    if (!e || !this.#free(e.meta, lease.owner)) return undefined;
    const taken = this.#take(e, lease);
    await this.#write(log, [taken]);
    return recordOf(taken);
  }

  async claim(lease: Lease, limit: number, filter: { sagas?: readonly string[]; exclude?: readonly string[] } = {}): Promise<SagaRecord[]> {
    const log = await this.#ready();
    // From the selection to #write's first line: synchronous, so concurrent claimers never overlap.
    const taken = [...this.#latest.values()]
      .filter((e) => this.#free(e.meta, lease.owner) && (!filter.sagas || filter.sagas.includes(e.meta.saga)) && !filter.exclude?.includes(e.meta.id))
      .toSorted((a, b) => a.meta.updatedAt - b.meta.updatedAt)
      .slice(0, limit)
      .map((e) => this.#take(e, lease));
    if (taken.length === 0) return [];
    await this.#write(log, taken);
    return taken.map(recordOf);
  }

  async renew(ids: readonly string[], lease: Lease): Promise<string[]> {
    const log = await this.#ready();
    const renewed: Entry[] = [];
    for (const id of ids) {
      const e = this.#latest.get(id);
      if (e && e.meta.owner === lease.owner) renewed.push(this.#entry({ ...e.meta, leaseUntil: this.#now() + lease.ms }, e.body));
    }
    if (renewed.length > 0) await this.#write(log, renewed);
    return renewed.map((e) => e.meta.id);
  }

  async list(query: SagaQuery = {}): Promise<SagaRecord[]> {
    checkSagaQuery('embedded', query);
    await this.#ready();
    const limit = query.limit ?? 100;
    const offset = query.offset ?? 0;
    return [...this.#visible.values()]
      .filter((e) => (!query.status || query.status.includes(e.meta.status)) && (!query.saga || e.meta.saga === query.saga))
      .toSorted((a, b) => b.meta.createdAt - a.meta.createdAt || (a.meta.id < b.meta.id ? 1 : -1))
      .slice(offset, offset + limit)
      .map(recordOf);
  }

  async compact(): Promise<number> {
    return (await this.#ready()).compact();
  }

  async close(): Promise<void> {
    const log = await this.#ready().catch(() => undefined);
    await log?.close();
  }
}

/**
 * Saga instances on the embedded broker's log: durable on local disk, no server. Each write
 * appends the instance's whole state as one record keyed by saga id (a compacted log: the latest
 * record per id wins, superseded ones are compacted away); an in-memory index, rebuilt by one
 * scan on open, answers reads and runs the version and lease checks. A write resolves once its
 * record is durable per `fsync` (default `'batch'`: fsync'd, group commit), so every resolved
 * write survives `kill -9`. Same guarantees as the memory and PostgreSQL stores within the one
 * process that owns the directory; other processes cannot share it (use `postgresSagaStore` for
 * orchestrators in several processes).
 *
 * With `transport` (an `embedded()` transport this process owns), the instances live on a topic
 * of that broker (`switchyard.sagas` by default) instead of a directory of their own; close the
 * store before the transport.
 *
 * @example
 * ```ts
 * import { embeddedSagaStore, SagaOrchestrator } from 'switchyard/saga';
 * const store = embeddedSagaStore({ dir: './data/sagas' });
 * const orchestrator = new SagaOrchestrator({ store, sagas: [fulfillment] });
 * ```
 */
export function embeddedSagaStore(options: EmbeddedSagaStoreOptions): EmbeddedSagaStore {
  return new EmbeddedSagaStoreImpl(options);
}
