import { join, resolve } from 'node:path';
import { ClosedError, ConcurrencyError, ConfigError } from '../core/errors.ts';
import type { NormalizedMessage } from '../core/message.ts';
import { tryLock } from '../transports/embedded/lock.ts';
import { PartitionLog, type FsyncMode, type ReadHint } from '../transports/embedded/partition-log.ts';
import { encodeRecords, type StoredRecord } from '../transports/embedded/record.ts';
import { createEventStore, type EventStoreOptions } from './create-event-store.ts';
import { AppendRecovery, appendMarkOf, type IncompleteAppend } from './embedded-append-recovery.ts';
import {
  matchesFilter,
  versionMatches,
  type DomainEvent,
  type EventFilter,
  type EventStorage,
  type EventStore,
  type EventToStore,
  type ExpectedVersion,
  type ReadStreamOptions,
  type StoragePage,
  type StoredEvent,
} from './event-store.ts';
import { ensurePrivateDir } from '../transports/embedded/private-dir.ts';

export interface EmbeddedEventStoreOptions extends EventStoreOptions {
  /** Data directory (created with mode 0700). One process owns it at a time. */
  dir: string;
  /** When an append resolves: `'batch'` (default, group commit), `'always'` or `'never'` — as for `embedded()`. */
  fsync?: FsyncMode;
  /** Segment file size before rolling. Default 64 MiB. */
  segmentBytes?: number;
}

/**
 * The envelope travels in one header, `[type, schemaVersion, version, contentType, metadata, index, count]`
 * as JSON: one parse per record. `index` and `count` place the record in its append, so opening
 * the store can tell an append a crash cut short (see embedded-append-recovery.ts); envelopes
 * written before they existed end at `metadata`.
 */
const ENVELOPE_HEADER = 'es-event';
/** Records scanned per `readAll` call at most, so a selective filter cannot stall the loop. */
const MAX_SCAN = 10_000;
/** Bytes per log read: the log reads this much from disk per call, so keep it near what is wanted. */
const MAX_READ_BYTES = 1024 * 1024;
const readBytesFor = (records: number): number => Math.min(MAX_READ_BYTES, Math.max(4096, records * 512));
/** Directories open in this process (the lock file only keeps other processes out). */
const openDirs = new Set<string>();

function toRecord(streamId: string, event: EventToStore, version: number, index: number, count: number): NormalizedMessage {
  return {
    id: event.id,
    key: streamId,
    payload: event.data,
    timestamp: event.timestamp,
    headers: { [ENVELOPE_HEADER]: JSON.stringify([event.type, event.schemaVersion, version, event.contentType, event.metadata, index, count]) },
  };
}

function fromRecord(record: StoredRecord): StoredEvent {
  const [type, schemaVersion, version, contentType, metadata] = JSON.parse(record.headers[ENVELOPE_HEADER] ?? 'null') as [string, number, number, string, Record<string, string>];
  return { id: record.id, streamId: record.key, version, position: record.offset + 1, timestamp: record.timestamp, type, schemaVersion, contentType, data: record.payload, metadata };
}

/** The event type of a record, for filters (parses only the envelope's first element's header). */
function typeOf(record: StoredRecord): string {
  return (JSON.parse(record.headers[ENVELOPE_HEADER] ?? '[""]') as [string])[0];
}

/**
 * Events on the embedded broker's log: one partition log (segments, CRC32C frames, group commit)
 * whose offset + 1 is the global position, and a per-stream index (stream id → offsets) kept in
 * memory and rebuilt by one scan when the store opens. Loading one aggregate reads that stream's
 * records by offset — never the other streams'. The directory has one owner process (a lock
 * file); the version check runs in that process, synchronously before the write is queued.
 *
 * @example
 * ```ts
 * const store = createEventStore(new EmbeddedEventStorage({ dir: './data/events' }), { upcasters });
 * ```
 */
export class EmbeddedEventStorage implements EventStorage {
  readonly name = 'embedded';
  readonly pollIntervalMs = undefined;
  readonly #log: PartitionLog;
  readonly #release: () => void;
  /** Offsets of each stream's visible (written) events, in version order. */
  readonly #offsets = new Map<string, number[]>();
  /** Each stream's version including appends still being written: what the next check sees. */
  readonly #versions = new Map<string, number>();
  readonly #listeners = new Set<() => void>();
  /** Offsets of records of appends a crash cut short: in the log, never shown (see `#buildIndex`). */
  readonly #hidden = new Set<number>();
  /** Position of the last shown event: the head, which records of a cut-short append at the end are not. */
  #head = 0;
  #closed = false;

  constructor(options: Pick<EmbeddedEventStoreOptions, 'dir' | 'fsync' | 'segmentBytes'>) {
    const problems: string[] = [];
    if (typeof options.dir !== 'string' || options.dir === '') problems.push('embeddedEventStore: dir must be a directory path');
    const fsync = options.fsync ?? 'batch';
    if (!['always', 'batch', 'never'].includes(fsync)) problems.push(`embeddedEventStore: fsync must be 'always', 'batch' or 'never', got ${JSON.stringify(fsync)}`);
    const segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    if (!(Number.isInteger(segmentBytes) && segmentBytes >= 4096)) problems.push(`embeddedEventStore: segmentBytes must be an integer ≥ 4096, got ${segmentBytes}`);
    ConfigError.throwIfAny(problems);
    const dir = resolve(options.dir);
    const inUse = (by: string): ConfigError =>
      new ConfigError(`embeddedEventStore: ${dir} is in use by ${by}; an embedded event store has one owner process and one store object (use postgresEventStore to share a store between processes)`);
    if (openDirs.has(dir)) throw inUse('another store in this process');
    ensurePrivateDir(dir); // as the broker's: 0700, an existing looser one tightened with a warning
    const lock = tryLock(dir);
    if (!lock.owned) throw inUse(Number.isInteger(lock.pid) ? `process ${lock.pid}` : 'another process, still creating its lock (no pid in it yet)');
    openDirs.add(dir);
    this.#release = () => {
      openDirs.delete(dir);
      lock.release();
    };
    try {
      this.#log = PartitionLog.open(join(dir, 'events'), { fsync, segmentBytes, batchWindowMs: 0, verifyOnOpen: false });
    } catch (error) {
      this.#release();
      throw error;
    }
    this.#buildIndex(dir);
  }

  /**
   * Scans the log once: indexes the records of complete appends and hides those of an append a
   * crash cut short (its first records written, the rest not), so an append is seen whole or not
   * at all, and the stream's version is what it was before it.
   */
  #buildIndex(dir: string): void {
    const recovery = new AppendRecovery((streamId, offset) => {
      this.#index(streamId, offset);
      this.#head = offset + 1;
    });
    let offset = this.#log.startOffset;
    let hint: ReadHint | undefined;
    for (;;) {
      const page = this.#log.read(offset, 5_000, MAX_READ_BYTES, hint);
      if (page.records.length === 0) break;
      for (const record of page.records) recovery.add(record.key, record.offset, appendMarkOf(record.headers[ENVELOPE_HEADER]));
      offset = page.records[page.records.length - 1]!.offset + 1;
      hint = page.hint;
    }
    recovery.finish();
    for (const cut of recovery.incomplete) {
      for (const o of cut.offsets) this.#hidden.add(o);
      process.emitWarning(incompleteAppendWarning(dir, cut));
    }
    for (const [stream, offsets] of this.#offsets) this.#versions.set(stream, offsets.length);
  }

  #index(streamId: string, offset: number): void {
    let list = this.#offsets.get(streamId);
    if (!list) this.#offsets.set(streamId, (list = []));
    list.push(offset);
  }

  async append(streamId: string, events: readonly EventToStore[], expected: ExpectedVersion): Promise<StoredEvent[]> {
    if (this.#closed) throw new ClosedError('embedded event store');
    // From the check to reserve(): synchronous, so appends in this process cannot interleave.
    const actual = this.#versions.get(streamId) ?? 0;
    if (!versionMatches(expected, actual)) throw new ConcurrencyError(`stream "${streamId}"`, expected, actual);
    const records = events.map((event, i) => toRecord(streamId, event, actual + i + 1, i, events.length));
    const first = this.#log.reserve(records.length);
    const frames = encodeRecords(records, first); // refuses what cannot be framed, before anything changed
    const written = this.#log.append(frames, records.length);
    this.#versions.set(streamId, actual + records.length);
    const stored = events.map((event, i) => ({ ...event, streamId, version: actual + i + 1, position: first + i + 1 }));
    try {
      await written;
    } catch (error) {
      // Not stored (a full disk, say): the stream is still at `actual`, unless a later append
      // already counted on this one — then that one fails too, and the check stays conservative.
      if (this.#versions.get(streamId) === actual + records.length) this.#versions.set(streamId, actual);
      throw error;
    }
    // Writes complete in offset order, so per-stream offsets stay sorted.
    for (let i = 0; i < records.length; i++) this.#index(streamId, first + i);
    this.#head = Math.max(this.#head, first + records.length);
    for (const listener of this.#listeners) listener();
    return stored;
  }

  async readStream(streamId: string, options: ReadStreamOptions & { direction: 'forwards' | 'backwards' }): Promise<StoredEvent[]> {
    const offsets = this.#offsets.get(streamId) ?? [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let wanted: number[];
    if (options.direction === 'forwards') {
      const start = Math.max(0, (options.from ?? 1) - 1);
      wanted = offsets.slice(start, Number.isFinite(limit) ? start + limit : undefined);
    } else {
      const end = Math.min(offsets.length, options.from ?? offsets.length);
      wanted = offsets.slice(Number.isFinite(limit) ? Math.max(0, end - limit) : 0, end);
    }
    const events = this.#readOffsets(wanted);
    return options.direction === 'forwards' ? events : events.reverse();
  }

  /** Reads records at sorted offsets, one log read per run of consecutive offsets. */
  #readOffsets(offsets: readonly number[]): StoredEvent[] {
    const out: StoredEvent[] = [];
    let i = 0;
    while (i < offsets.length) {
      let j = i + 1;
      while (j < offsets.length && offsets[j] === offsets[j - 1]! + 1) j++;
      let offset = offsets[i]!;
      let hint: ReadHint | undefined;
      while (offset <= offsets[j - 1]!) {
        const page = this.#log.read(offset, offsets[j - 1]! - offset + 1, readBytesFor(offsets[j - 1]! - offset + 1), hint);
        if (page.records.length === 0) throw new ConfigError(`embedded event store: offset ${offset} is indexed but not readable (was the log truncated?)`);
        for (const record of page.records) out.push(fromRecord(record));
        offset = page.records[page.records.length - 1]!.offset + 1;
        hint = page.hint;
      }
      i = j;
    }
    return out;
  }

  async streamVersion(streamId: string): Promise<number> {
    return this.#offsets.get(streamId)?.length ?? 0;
  }

  async readAll(from: number, limit: number, filter: EventFilter | undefined): Promise<StoragePage> {
    const events: StoredEvent[] = [];
    let offset = Math.max(from - 1, this.#log.startOffset);
    const stop = Math.min(this.#log.endOffset, offset + MAX_SCAN);
    let hint: ReadHint | undefined;
    while (offset < stop && events.length < limit) {
      const page = this.#log.read(offset, Math.min(1_000, stop - offset), MAX_READ_BYTES, hint);
      if (page.records.length === 0) break;
      for (const record of page.records) {
        offset = record.offset + 1;
        if (this.#hidden.has(record.offset)) continue;
        if (matchesFilter({ streamId: record.key, type: filter?.types ? typeOf(record) : '' }, filter)) {
          events.push(fromRecord(record));
          if (events.length >= limit) break;
        }
      }
      hint = page.hint;
    }
    return { events, next: Math.max(from, offset + 1), more: events.length < limit && offset < this.#log.endOffset };
  }

  async headPosition(): Promise<number> {
    return this.#head;
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    try {
      await this.#log.close();
    } finally {
      this.#release();
    }
  }
}

/** Says what opening the store left out and why (a process warning: the store opens regardless). */
function incompleteAppendWarning(dir: string, cut: IncompleteAppend): string {
  const first = cut.offsets[0]! + 1;
  const last = cut.offsets[cut.offsets.length - 1]! + 1;
  return (
    `embedded event store ${dir}: ${cut.offsets.length} of the ${cut.count} events of an append to stream "${cut.streamId}" ` +
    `(position${first === last ? ` ${first}` : `s ${first}–${last}`}) are on disk without the rest — a crash cut the write short. ` +
    `The append is left out whole, as if it never happened (it was not acknowledged unless fsync was 'never'); the stream keeps its version before it.`
  );
}

/**
 * An event store on the embedded broker's log: durable on local disk, no server, one owner
 * process. Same contract and suite as the memory and PostgreSQL stores.
 *
 * @example
 * ```ts
 * import { embeddedEventStore } from 'switchyard/eventsourcing';
 * const store = embeddedEventStore({ dir: './data/events', publish: { transport: bus, topic: 'orders.events' } });
 * await store.appendToStream('order-1', [{ type: 'ItemAdded', data: { sku: 'a', qty: 1 } }], { expectedVersion: 'noStream' });
 * ```
 */
export function embeddedEventStore<E extends DomainEvent = DomainEvent>(options: EmbeddedEventStoreOptions): EventStore<E> {
  return createEventStore<E>(new EmbeddedEventStorage(options), options);
}
