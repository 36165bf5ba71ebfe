/**
 * The event store contract: what every backend (memory, PostgreSQL, later embedded) offers.
 *
 * Two layers. `EventStore` is what applications use: typed events in, typed events out, with
 * codecs and upcasters applied. `EventStorage` is what a backend implements: bytes per event,
 * a conditional append, reads by stream and by global position. `createEventStore(storage)`
 * turns the second into the first, so a new backend only writes storage.
 */

/** A domain event as deciders see it: a type tag and its data. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
}

/**
 * Free-form string metadata carried with an event. `correlationId` names the conversation, and
 * `causationId` the message or command that caused the event; both become the
 * `x-correlation-id`/`x-causation-id` headers when events are published.
 */
export type EventMetadata = Record<string, string> & { correlationId?: string; causationId?: string };

/** An event handed to `appendToStream`. */
export type NewEvent<E extends DomainEvent = DomainEvent> = E & {
  /** Unique id; a time-ordered UUIDv7 is generated when absent. Published messages reuse it. */
  id?: string;
  metadata?: EventMetadata;
};

/** Where and when an event was stored. */
export interface EventEnvelope {
  id: string;
  streamId: string;
  /** Position within its stream: 1 for the first event. */
  version: number;
  /** Position in the whole store: increasing in commit order, with possible gaps. */
  position: number;
  /** Milliseconds since epoch, set at append. */
  timestamp: number;
  metadata: EventMetadata;
  /** Version of the event type's schema it was written with (before upcasting). */
  schemaVersion: number;
}

/** An event read back from the store. */
export type RecordedEvent<E extends DomainEvent = DomainEvent> = E & EventEnvelope;

/**
 * The optimistic-concurrency condition of an append:
 * - `'any'`: no check;
 * - `'noStream'`: the stream must not exist yet;
 * - `'exists'`: the stream must have at least one event;
 * - a number: the stream's current version must equal it (0 = no events yet).
 */
export type ExpectedVersion = 'any' | 'noStream' | 'exists' | number;

export interface AppendOptions {
  /** Default `'any'`. A failed check rejects with ConcurrencyError naming expected and actual versions. */
  expectedVersion?: ExpectedVersion;
}

export interface AppendResult {
  /** The stream's version after the append. */
  nextExpectedVersion: number;
  /** Global position of the last appended event. */
  position: number;
  /** The events as stored. */
  events: RecordedEvent[];
}

export interface ReadStreamOptions {
  /** First version to read (inclusive). Default 1 forwards, the last version backwards. */
  from?: number;
  /** Default `'forwards'`. */
  direction?: 'forwards' | 'backwards';
  /** Most events to return. Default: all. */
  limit?: number;
}

/** Which events a global read or subscription wants. Every field given must match. */
export interface EventFilter {
  /** Stream category: the part of the stream id before the first `-` (`order-42` → `order`). */
  category?: string | readonly string[];
  /** Stream id prefix. */
  streamPrefix?: string;
  /** Event types. */
  types?: readonly string[];
}

export interface ReadAllOptions {
  /** First global position to read (inclusive). Default 1. */
  from?: number;
  /** Most events to return. Default 1,000. */
  limit?: number;
  filter?: EventFilter;
}

/** One page of a global read. */
export interface AllPage<E extends DomainEvent = DomainEvent> {
  events: RecordedEvent<E>[];
  /**
   * Where the next read starts. Past the last event returned, or — when the page is short because
   * the filter skipped events — past everything the read looked at, so a filtered reader's
   * checkpoint still moves forward.
   */
  next: number;
  /**
   * Set when the page ends early at an event that cannot be decoded (at `next`): the events
   * before it are returned, and reading from `next` throws this error again.
   */
  error?: Error;
  /**
   * True when events at `next` or later may already be stored although the page is short: the
   * read stopped at a scan limit (a selective filter over many events) or events were filtered
   * out after upcasting. Read again from `next` at once; when false, a short page means the head
   * was reached and a reader may wait for the next append.
   */
  more: boolean;
}

export interface EventSubscribeOptions {
  /** First global position to deliver (inclusive), `'start'` (default) or `'end'` (only new events). */
  from?: number | 'start' | 'end';
  filter?: EventFilter;
  /** Events read per round trip while catching up. Default 500. */
  batchSize?: number;
}

/** A running subscription: catches up from `from`, then delivers new events as they are appended. */
export interface EventSubscription extends AsyncDisposable {
  /** Resolves once the subscription has delivered everything stored when it caught up the first time. */
  readonly caughtUp: Promise<void>;
  /** Resolves when it stopped: `undefined` after `close()`, or the error that ended it (a handler threw). Never rejects. */
  readonly closed: Promise<Error | undefined>;
  /** The next global position it will look at. */
  readonly position: number;
  /** Stops after the event in flight. Idempotent. */
  close(): Promise<void>;
}

/**
 * An event store: append-only streams with optimistic concurrency, a global order across them,
 * and subscriptions that catch up and then follow live appends.
 *
 * Methods may be called concurrently. Appends to one stream are serialised by the version check:
 * of two appends expecting the same version, one wins and the other rejects with ConcurrencyError.
 *
 * @example
 * ```ts
 * const store = memoryEventStore();
 * await store.appendToStream('order-1', [{ type: 'ItemAdded', data: { sku: 'a', qty: 1 } }], { expectedVersion: 'noStream' });
 * const events = await store.readStream('order-1');
 * ```
 */
export interface EventStore<E extends DomainEvent = DomainEvent> {
  /** A short name for logs: `memory`, `postgres`. */
  readonly name: string;
  /**
   * Appends events atomically (all or none) to one stream. Resolves once they are durable (per
   * backend) and, when publishing is configured, handed to it. Rejects with ConcurrencyError when
   * `expectedVersion` does not hold, ConfigError on invalid input, ClosedError after `close()`.
   */
  appendToStream(streamId: string, events: NewEvent<E> | readonly NewEvent<E>[], options?: AppendOptions): Promise<AppendResult>;
  /** Events of one stream, upcast and decoded. Reads only that stream (an index lookup), never others. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent<E>[]>;
  /** The stream's current version, 0 when it has no events. */
  streamVersion(streamId: string): Promise<number>;
  /** Events of every stream in global-position order. */
  readAll(options?: ReadAllOptions): Promise<RecordedEvent<E>[]>;
  /** Like `readAll`, and says where to continue (see `AllPage.next`). For checkpointed readers. */
  readAllPage(options?: ReadAllOptions): Promise<AllPage<E>>;
  /** The highest global position stored, 0 when empty. */
  headPosition(): Promise<number>;
  /**
   * Delivers events one at a time, in global order, from `from`: first what is stored, then
   * what is appended afterwards. The handler's promise is awaited before the next event; a
   * handler that throws ends the subscription (`closed` resolves to the error).
   */
  subscribe(options: EventSubscribeOptions, handler: (event: RecordedEvent<E>) => Promise<void> | void): EventSubscription;
  /**
   * A wake-up signal for checkpointed readers (projections): `wait()` resolves after the next
   * append (in this process, or found by polling for other processes' appends). Call `reset()`
   * before each read so no append is missed; `stop()` when done.
   */
  watchAppends(): AppendWatcher;
  /** Stops subscriptions and releases what the store opened (never a pool it was given). Idempotent. */
  close(): Promise<void>;
}

/** See `EventStore.watchAppends`. */
export interface AppendWatcher {
  reset(): void;
  wait(): Promise<void>;
  stop(): void;
}

// ---------------------------------------------------------------------------------------------
// Backend SPI

/** An event as a backend stores it: the data already encoded. */
export interface StoredEvent {
  id: string;
  streamId: string;
  version: number;
  position: number;
  timestamp: number;
  type: string;
  schemaVersion: number;
  contentType: string;
  data: Uint8Array;
  metadata: Record<string, string>;
}

/** One page of `EventStorage.readAll`. */
export interface StoragePage {
  events: StoredEvent[];
  /** Where the next read starts (see `AllPage.next`). */
  next: number;
  /** True when the read stopped before the head with fewer than `limit` events (see `AllPage.more`). */
  more?: boolean;
}

/** An event ready to be stored: everything but what the backend assigns. */
export type EventToStore = Omit<StoredEvent, 'version' | 'position'>;

/**
 * What a backend implements. `createEventStore(storage, options)` adds codecs, upcasting,
 * subscriptions and publishing on top.
 *
 * Rules: `append` checks `expected` and writes every event or none, assigning versions
 * (current + 1, …) and global positions that increase in the order appends become visible — a
 * reader that has seen position p will never later see a new event below p. It throws
 * ConcurrencyError(`stream "<id>"`, expected, actual) when the check fails.
 */
export interface EventStorage {
  readonly name: string;
  append(streamId: string, events: readonly EventToStore[], expected: ExpectedVersion): Promise<StoredEvent[]>;
  readStream(streamId: string, options: Required<Pick<ReadStreamOptions, 'direction'>> & ReadStreamOptions): Promise<StoredEvent[]>;
  streamVersion(streamId: string): Promise<number>;
  /**
   * Up to `limit` matching events from `from`, and where to continue. A backend that stops
   * scanning before its head for another reason than `limit` (a cap on records looked at per
   * call) sets `more`, or readers would take the short page for the head and wait.
   */
  readAll(from: number, limit: number, filter: EventFilter | undefined): Promise<StoragePage>;
  headPosition(): Promise<number>;
  /**
   * Registers a callback run after each append made through this storage object (in-process
   * wake-up for subscriptions). Returns the unregister function.
   */
  onAppend(listener: () => void): () => void;
  /**
   * How often subscriptions look for appends made by other processes, in ms; undefined when
   * every append goes through this object (memory).
   */
  readonly pollIntervalMs: number | undefined;
  close(): Promise<void>;
}

/**
 * The category of a stream id: the part before the first `-`, or the whole id.
 *
 * @example
 * ```ts
 * streamCategory('order-42'); // 'order'
 * ```
 */
export function streamCategory(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash < 0 ? streamId : streamId.slice(0, dash);
}

/**
 * True when a stored event passes the filter. Backends that cannot push a filter down use it.
 *
 * @example
 * ```ts
 * matchesFilter({ streamId: 'order-1', type: 'OrderPlaced' }, { category: 'order', types: ['OrderPlaced'] }); // true
 * ```
 */
export function matchesFilter(event: Pick<StoredEvent, 'streamId' | 'type'>, filter: EventFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.category !== undefined) {
    const wanted = typeof filter.category === 'string' ? [filter.category] : filter.category;
    if (!wanted.includes(streamCategory(event.streamId))) return false;
  }
  if (filter.streamPrefix !== undefined && !event.streamId.startsWith(filter.streamPrefix)) return false;
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  return true;
}

/** True when `actual` (0 = no stream) satisfies `expected`. */
export function versionMatches(expected: ExpectedVersion, actual: number): boolean {
  if (expected === 'any') return true;
  if (expected === 'noStream') return actual === 0;
  if (expected === 'exists') return actual > 0;
  return actual === expected;
}
