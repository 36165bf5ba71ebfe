import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ClosedError, ConfigError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { compactPartition, TOMBSTONE_HEADER } from './compaction.ts';
import { tryLock } from './lock.ts';
import { PartitionLog, type FsyncMode, type ReadHint } from './partition-log.ts';
import { encodeRecords, type StoredRecord } from './record.ts';
import type { EmbeddedTransport } from './transport.ts';
import { ensurePrivateDir } from './private-dir.ts';

/** Where a store built on the embedded log keeps its records. */
export interface StoreLogOptions {
  /** A data directory of the store's own (created with mode 0700); one process owns it. */
  dir?: string;
  /**
   * Or an `embedded()` transport this process owns: the store uses a compacted topic of its
   * broker (`topic`). A transport that is a client of another process's broker is refused.
   */
  transport?: EmbeddedTransport;
  /** The topic, with `transport`. */
  topic?: string;
  /** With `dir`: when a write resolves — `'batch'` (default), `'always'` or `'never'`, as for `embedded()`. */
  fsync?: FsyncMode;
  /** With `dir`: segment size before rolling (compaction rewrites closed segments). Default 64 MiB. */
  segmentBytes?: number;
  /** How often superseded records are compacted away, ms (0: never by timer). Default 60,000. */
  compactionIntervalMs?: number;
}

const MAX_READ_BYTES = 1024 * 1024;
/** `dir` or `dir + topic` open in this process: the lock file only keeps other processes out. */
const openHere = new Set<string>();

/**
 * The log under a store built on the embedded broker (saga state, idempotency marks): records
 * keyed by the store's key, the latest per key wins, tombstones delete. Either a partition log
 * in a directory of its own or a topic of an `embedded()` broker this process owns. Stores keep
 * an in-memory index rebuilt by `scan()` on open; one process (the owner) writes.
 */
export class StoreLog {
  readonly #partitions: PartitionLog[];
  readonly #append: (messages: NormalizedMessage[]) => Promise<void>;
  readonly #release: () => void;
  readonly #tombstoneRetentionMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #what: string;
  /** True when the partition logs are the store's own (closed with it), false on a broker's topic. */
  readonly #own: boolean;

  private constructor(what: string, own: boolean, partitions: PartitionLog[], append: (messages: NormalizedMessage[]) => Promise<void>, release: () => void, tombstoneRetentionMs: number) {
    this.#what = what;
    this.#own = own;
    this.#partitions = partitions;
    this.#append = append;
    this.#release = release;
    this.#tombstoneRetentionMs = tombstoneRetentionMs;
  }

  /** Validates the options of store `what` (e.g. `embeddedSagaStore`), reporting every problem at once. */
  static validate(what: string, options: StoreLogOptions, defaultTopic: string): void {
    const problems: string[] = [];
    const hasDir = typeof options?.dir === 'string' && options.dir !== '';
    if (hasDir === (options?.transport !== undefined)) problems.push(`${what}: give either dir (a directory path) or transport (an embedded() transport), not both and not neither`);
    if (options?.transport !== undefined && (typeof options.transport !== 'object' || options.transport.name !== 'embedded')) {
      problems.push(`${what}: transport must be an embedded() transport`);
    }
    const fsync = options?.fsync ?? 'batch';
    if (!['always', 'batch', 'never'].includes(fsync)) problems.push(`${what}: fsync must be 'always', 'batch' or 'never', got ${JSON.stringify(fsync)}`);
    const segmentBytes = options?.segmentBytes ?? 64 * 1024 * 1024;
    if (!(Number.isInteger(segmentBytes) && segmentBytes >= 4096)) problems.push(`${what}: segmentBytes must be an integer ≥ 4096, got ${segmentBytes}`);
    const interval = options?.compactionIntervalMs ?? 60_000;
    if (!(Number.isFinite(interval) && interval >= 0)) problems.push(`${what}: compactionIntervalMs must be a number ≥ 0, got ${interval}`);
    const topic = options?.topic ?? defaultTopic;
    if (typeof topic !== 'string' || topic === '') problems.push(`${what}: topic must be a non-empty string`);
    ConfigError.throwIfAny(problems);
  }

  /** Opens a store's own directory (synchronously: recovery and the lock happen here). */
  static openDir(what: string, options: StoreLogOptions & { dir: string }, name: string): StoreLog {
    const dir = resolve(options.dir);
    const inUse = (by: string): ConfigError =>
      new ConfigError(`${what}: ${dir} is in use by ${by}; an embedded store has one owner process and one store object per directory`);
    if (openHere.has(dir)) throw inUse('another store in this process');
    ensurePrivateDir(dir); // as the broker's: 0700, an existing looser one tightened with a warning
    const lock = tryLock(dir);
    if (!lock.owned) throw inUse(Number.isInteger(lock.pid) ? `process ${lock.pid}` : 'another process, still creating its lock (no pid in it yet)');
    openHere.add(dir);
    const release = (): void => {
      openHere.delete(dir);
      lock.release();
    };
    let log: PartitionLog;
    try {
      log = PartitionLog.open(join(dir, name), { fsync: options.fsync ?? 'batch', segmentBytes: options.segmentBytes ?? 64 * 1024 * 1024, batchWindowMs: 0, verifyOnOpen: false });
    } catch (error) {
      release();
      throw error;
    }
    const append = (messages: NormalizedMessage[]): Promise<void> => {
      const first = log.reserve(messages.length);
      return log.append(encodeRecords(messages, first), messages.length);
    };
    // No consumers read a store's own log: tombstones can go as soon as compaction sees them.
    return new StoreLog(what, true, [log], append, release, 0).#startTimer(options.compactionIntervalMs);
  }

  /** Uses topic `topic` of the broker that `transport` runs in this process. */
  static async openTopic(what: string, options: StoreLogOptions & { transport: EmbeddedTransport }, topic: string): Promise<StoreLog> {
    const { transport } = options;
    await transport.connect();
    const broker = transport.broker;
    if (!broker) {
      throw new ConfigError(
        `${what}: the embedded transport is a client of another process's broker; the store keeps its index in the process that owns the directory — open the store there, or give it a dir of its own`,
      );
    }
    const key = `${realpathSync(broker.options.dir)}\u0000${topic}`;
    if (openHere.has(key)) throw new ConfigError(`${what}: topic "${topic}" of ${broker.options.dir} is in use by another store in this process; use one store object per topic`);
    await broker.publish(topic, []); // creates the topic
    const state = broker.topics.get(topic)!;
    openHere.add(key);
    const store = new StoreLog(what, false, state.log.partitions, (messages) => broker.publish(topic, messages), () => openHere.delete(key), broker.options.tombstoneRetentionMs);
    return store.#startTimer(options.compactionIntervalMs);
  }

  #startTimer(intervalMs = 60_000): this {
    if (intervalMs > 0) {
      this.#timer = setInterval(() => {
        try {
          this.onMaintain?.();
          this.compact();
        } catch {
          // a failed compaction leaves the log as it was; the next run tries again
        }
      }, intervalMs);
      this.#timer.unref();
    }
    return this;
  }

  /** Called before each timed compaction (stores append their tombstones here). */
  onMaintain: (() => void) | undefined;

  /** Every stored record in log order per partition (the records of one key are in one partition, in order). */
  scan(visit: (record: StoredRecord) => void): void {
    for (const log of this.#partitions) {
      let offset = log.startOffset;
      let hint: ReadHint | undefined;
      for (;;) {
        const page = log.read(offset, 5_000, MAX_READ_BYTES, hint);
        if (page.records.length === 0) break;
        for (const record of page.records) visit(record);
        offset = page.records[page.records.length - 1]!.offset + 1;
        hint = page.hint;
      }
    }
  }

  /**
   * Appends records; resolves once they are as durable as the fsync mode makes them. Records of
   * one key are written in call order (the order of `append` calls, which are queued synchronously).
   */
  append(messages: NormalizedMessage[]): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#what));
    return this.#append(messages);
  }

  /** Rewrites closed segments without superseded records (and old tombstones); returns how many. */
  compact(now = Date.now()): number {
    if (this.#closed) return 0;
    let n = 0;
    for (const log of this.#partitions) n += compactPartition(log, now, this.#tombstoneRetentionMs);
    return n;
  }

  /** Waits for pending writes and releases the directory (with `dir`: closes the log). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      if (this.#own) for (const log of this.#partitions) await log.close();
      else for (const log of this.#partitions) await log.flushed();
    } finally {
      this.#release();
    }
  }
}

/** A tombstone record for `key` (the `tombstone()` header), for `StoreLog.append`. */
export function tombstoneRecord(key: string, now: number): NormalizedMessage {
  return { id: '', key, payload: new Uint8Array(0), headers: { [TOMBSTONE_HEADER]: '1' }, timestamp: now };
}

/** True when `record` is a tombstone. */
export function isTombstone(record: StoredRecord): boolean {
  return record.headers[TOMBSTONE_HEADER] !== undefined;
}
