import { ConcurrencyError } from '../core/errors.ts';
import { createEventStore, type EventStoreOptions } from './create-event-store.ts';
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

/** Events scanned per `readAll` call at most, so a selective filter cannot stall the loop. */
const MAX_SCAN = 10_000;

/**
 * In-process storage: a global array plus one array per stream (the per-stream index).
 *
 * @example
 * ```ts
 * const storage = new MemoryEventStorage();
 * const legacy = createEventStore(storage); // two views of one storage, e.g. with and without upcasters
 * const current = createEventStore(storage, { upcasters });
 * ```
 */
export class MemoryEventStorage implements EventStorage {
  readonly name = 'memory';
  readonly pollIntervalMs = undefined;
  readonly #all: StoredEvent[] = [];
  readonly #streams = new Map<string, StoredEvent[]>();
  readonly #listeners = new Set<() => void>();

  async append(streamId: string, events: readonly EventToStore[], expected: ExpectedVersion): Promise<StoredEvent[]> {
    // Synchronous from check to write: appends cannot interleave.
    const stream = this.#streams.get(streamId) ?? [];
    const actual = stream.length;
    if (!versionMatches(expected, actual)) throw new ConcurrencyError(`stream "${streamId}"`, expected, actual);
    const stored = events.map((event, i) => ({ ...event, version: actual + i + 1, position: this.#all.length + i + 1 }));
    this.#all.push(...stored);
    stream.push(...stored);
    this.#streams.set(streamId, stream);
    for (const listener of this.#listeners) listener();
    return stored;
  }

  async readStream(streamId: string, options: ReadStreamOptions & { direction: 'forwards' | 'backwards' }): Promise<StoredEvent[]> {
    const stream = this.#streams.get(streamId) ?? [];
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (options.direction === 'forwards') {
      const start = Math.max(0, (options.from ?? 1) - 1);
      return stream.slice(start, Number.isFinite(limit) ? start + limit : undefined);
    }
    const end = Math.min(stream.length, options.from ?? stream.length); // versions from..1
    const start = Number.isFinite(limit) ? Math.max(0, end - limit) : 0;
    return stream.slice(start, end).reverse();
  }

  async streamVersion(streamId: string): Promise<number> {
    return this.#streams.get(streamId)?.length ?? 0;
  }

  async readAll(from: number, limit: number, filter: EventFilter | undefined): Promise<StoragePage> {
    const events: StoredEvent[] = [];
    let index = from - 1;
    const stop = Math.min(this.#all.length, index + MAX_SCAN);
    for (; index < stop && events.length < limit; index++) {
      const event = this.#all[index]!;
      if (matchesFilter(event, filter)) events.push(event);
    }
    return { events, next: index + 1, more: events.length < limit && index < this.#all.length };
  }

  async headPosition(): Promise<number> {
    return this.#all.length;
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#listeners.clear();
  }
}

/**
 * An in-process event store for tests and examples: not durable, no dependencies. Loading one
 * stream reads only that stream's array.
 *
 * @example
 * ```ts
 * import { memoryEventStore } from 'switchyard/eventsourcing';
 * const store = memoryEventStore();
 * await store.appendToStream('order-1', [{ type: 'ItemAdded', data: { sku: 'a', qty: 1 } }], { expectedVersion: 'noStream' });
 * ```
 */
export function memoryEventStore<E extends DomainEvent = DomainEvent>(options: EventStoreOptions = {}): EventStore<E> {
  return createEventStore<E>(new MemoryEventStorage(), options);
}
