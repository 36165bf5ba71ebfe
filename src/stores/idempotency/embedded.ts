import { randomUUID } from 'node:crypto';
import type { NormalizedMessage } from '../../core/message.ts';
import { isTombstone, StoreLog, tombstoneRecord, type StoreLogOptions } from '../../transports/embedded/store-log.ts';
import type { ClaimOptions, IdempotencyClaim, IdempotencyStore } from './store.ts';

/** Embedded store settings: `dir` (a directory of its own) or `transport` (a topic of an embedded broker). */
export interface EmbeddedIdempotencyOptions extends StoreLogOptions {
  /** With `transport`: the compacted topic holding the processed marks. Default `switchyard.idempotency`. */
  topic?: string;
  /** Most keys remembered; the oldest processed ones are forgotten first. Default 100,000. */
  maxKeys?: number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** An embedded idempotency store; `compact()` drops expired and superseded marks from disk now. */
export interface EmbeddedIdempotencyStore extends IdempotencyStore {
  /** Writes tombstones for forgotten keys and compacts closed segments; returns segments rewritten. */
  compact(): Promise<number>;
}

type Entry = { state: 'processing'; token: string; until: number } | { state: 'done'; until: number };

const UNTIL_HEADER = 'idem-until';
const DEFAULT_TOPIC = 'switchyard.idempotency';

/**
 * Processed keys on the embedded broker's log, with a TTL and a size bound: claims work exactly
 * as in `memoryIdempotencyStore` (in memory, atomic within the process), and `complete()` appends
 * a "processed until" mark keyed by the message key and resolves once it is durable (fsync
 * `'batch'` by default). On open the marks still within their TTL are read back, so completed
 * keys stay skipped across restarts and `kill -9`. Claims themselves are not written: the only
 * process that can hold one is the owner, so after a restart none is held and a redelivered
 * message runs. Expired and forgotten marks get tombstones and are compacted away.
 *
 * Guarantee: duplicates are skipped once their first delivery completed, across restarts, while
 * the key is remembered (TTL, `maxKeys`); concurrent duplicates in the process never both run.
 * The mark is not atomic with the handler's side effects: a crash between the two lets the
 * message run again (at-least-once effect). One process owns the directory.
 *
 * @example
 * ```ts
 * import { embeddedIdempotencyStore } from 'switchyard/embedded';
 * router.use(idempotency({ store: embeddedIdempotencyStore({ dir: './data/idempotency' }) }));
 * ```
 */
export function embeddedIdempotencyStore(options: EmbeddedIdempotencyOptions): EmbeddedIdempotencyStore {
  StoreLog.validate('embeddedIdempotencyStore', options, DEFAULT_TOPIC);
  const maxKeys = options.maxKeys ?? 100_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  /** Keys whose mark is still on disk but no longer remembered (expired or evicted): tombstoned on the next compaction. */
  const forgotten = new Set<string>();
  let log: StoreLog | undefined;

  const forget = (key: string, entry: Entry | undefined): void => {
    if (entry?.state === 'done') forgotten.add(key);
  };

  const evict = (): void => {
    if (entries.size <= maxKeys) return;
    for (const [key, entry] of entries) {
      if (entries.size <= maxKeys) return;
      // Insertion order is completion order for done keys: oldest first. Never drop live claims.
      if (entry.state === 'done' || entry.until <= now()) {
        entries.delete(key);
        forget(key, entry);
      }
    }
  };

  /** Tombstones for forgotten keys and expired marks (appended, not awaited: losing them only costs disk space). */
  const sweep = (): Promise<void> => {
    if (!log) return Promise.resolve();
    const at = now();
    for (const [key, entry] of entries) {
      if (entry.state === 'done' && entry.until <= at) {
        entries.delete(key);
        forgotten.add(key);
      }
    }
    if (forgotten.size === 0) return Promise.resolve();
    const records = [...forgotten].map((key) => tombstoneRecord(key, at));
    forgotten.clear();
    return log.append(records).catch(() => undefined);
  };

  const opened = (l: StoreLog): StoreLog => {
    const at = now();
    l.scan((record) => {
      const previous = entries.get(record.key);
      entries.delete(record.key);
      if (isTombstone(record)) {
        forgotten.delete(record.key);
        return;
      }
      forget(record.key, previous);
      const until = Number(record.headers[UNTIL_HEADER]);
      if (until > at) {
        forgotten.delete(record.key);
        entries.set(record.key, { state: 'done', until });
      } else forgotten.add(record.key);
    });
    evict();
    l.onMaintain = () => void sweep();
    log = l;
    return l;
  };

  const opening =
    options.dir !== undefined
      ? Promise.resolve(opened(StoreLog.openDir('embeddedIdempotencyStore', { ...options, dir: options.dir }, 'idempotency')))
      : StoreLog.openTopic('embeddedIdempotencyStore', { ...options, transport: options.transport! }, options.topic ?? DEFAULT_TOPIC).then(opened);
  opening.catch(() => undefined);

  return {
    name: 'embedded',
    async claim(key: string, { leaseMs, ttlMs }: ClaimOptions): Promise<IdempotencyClaim> {
      const l = log ?? (await opening);
      const existing = entries.get(key);
      if (existing && existing.until > now()) return { status: existing.state === 'done' ? 'processed' : 'busy' };
      const token = randomUUID();
      entries.delete(key);
      forget(key, existing);
      entries.set(key, { state: 'processing', token, until: now() + leaseMs });
      evict();
      const mine = (): boolean => {
        const e = entries.get(key);
        return e?.state === 'processing' && e.token === token;
      };
      return {
        status: 'claimed',
        async complete() {
          const until = now() + ttlMs;
          const mark: NormalizedMessage = { id: '', key, payload: new Uint8Array(0), headers: { [UNTIL_HEADER]: String(until) }, timestamp: now() };
          // Durable first: until then the key stays claimed (duplicates are busy, not skipped).
          await l.append([mark]);
          entries.delete(key);
          forgotten.delete(key);
          entries.set(key, { state: 'done', until });
          evict();
        },
        async release() {
          if (mine()) entries.delete(key);
        },
        renew() {
          const entry = entries.get(key);
          if (entry?.state !== 'processing' || entry.token !== token) return false;
          entry.until = now() + leaseMs;
          return true;
        },
      };
    },
    async compact() {
      const l = await opening;
      await sweep();
      // Tombstones in the active segment already drop older marks in closed segments.
      return l.compact(now());
    },
    async close() {
      const l = await opening.catch(() => undefined);
      await l?.close();
      entries.clear();
    },
  };
}
