import { ConfigError, isConcurrencyError } from '../core/errors.ts';
import type { AppendResult, DomainEvent, EventMetadata, EventStore } from './event-store.ts';

/**
 * A small base class for aggregates written as objects: methods check invariants and `raise`
 * events; `apply` folds an event into the state (for new and loaded events alike).
 * `aggregateRepository` loads and saves them with optimistic concurrency.
 *
 * @example
 * ```ts
 * class Counter extends Aggregate<{ n: number }, DomainEvent<'Added', { by: number }>> {
 *   constructor(id: string) { super(id, { n: 0 }); }
 *   add(by: number): void { if (by <= 0) throw new Error('positive only'); this.raise({ type: 'Added', data: { by } }); }
 *   protected apply(state: { n: number }, event: DomainEvent<'Added', { by: number }>) { return { n: state.n + event.data.by }; }
 * }
 * ```
 */
export abstract class Aggregate<State, Event extends DomainEvent> {
  readonly id: string;
  #state: State;
  #version = 0;
  #pending: Event[] = [];

  constructor(id: string, initialState: State) {
    this.id = id;
    this.#state = initialState;
  }

  /** The state after stored and raised events. */
  get state(): State {
    return this.#state;
  }

  /** The stream version of the stored events this object was loaded with (not counting raised ones). */
  get version(): number {
    return this.#version;
  }

  /** Events raised since load or the last save. */
  get uncommittedEvents(): readonly Event[] {
    return this.#pending;
  }

  /** The state after one event. */
  protected abstract apply(state: State, event: Event): State;

  /** Records a new event and applies it. */
  protected raise(event: Event): void {
    this.#state = this.apply(this.#state, event);
    this.#pending.push(event);
  }

  /** Applies stored events (used by the repository when loading). */
  loadFromHistory(events: Iterable<Event & { version: number }>): void {
    for (const event of events) {
      this.#state = this.apply(this.#state, event);
      this.#version = event.version;
    }
  }

  /** Clears the raised events after they were stored at `version` (used by the repository). */
  markCommitted(version: number): void {
    this.#pending = [];
    this.#version = version;
  }
}

export interface AggregateRepository<A extends Aggregate<unknown, DomainEvent>> {
  /** A fresh aggregate with the stored history applied (version 0 when the stream is empty). */
  load(id: string): Promise<A>;
  /** Appends the raised events, expecting the loaded version; ConcurrencyError when someone else wrote first. */
  save(aggregate: A, options?: { metadata?: EventMetadata }): Promise<AppendResult | undefined>;
  /** Load, run `change`, save; on conflicts reload and run again, up to `maxRetries` times. */
  update(id: string, change: (aggregate: A) => void | Promise<void>, options?: { metadata?: EventMetadata }): Promise<A>;
}

/**
 * Loads and saves `Aggregate` objects in an event store.
 *
 * @example
 * ```ts
 * const counters = aggregateRepository(store, (id) => new Counter(id), { streamId: (id) => `counter-${id}` });
 * await counters.update('c-1', (counter) => counter.add(2));
 * ```
 */
export function aggregateRepository<A extends Aggregate<unknown, DomainEvent>>(
  store: EventStore,
  create: (id: string) => A,
  options: { streamId?: (id: string) => string; maxRetries?: number } = {},
): AggregateRepository<A> {
  const streamOf = options.streamId ?? ((id: string) => id);
  const maxRetries = options.maxRetries ?? 5;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new ConfigError(`aggregateRepository: maxRetries must be an integer ≥ 0, got ${maxRetries}`);

  const repository: AggregateRepository<A> = {
    async load(id) {
      const aggregate = create(id);
      aggregate.loadFromHistory((await store.readStream(streamOf(id))) as Iterable<DomainEvent & { version: number }>);
      return aggregate;
    },
    async save(aggregate, saveOptions = {}) {
      const pending = aggregate.uncommittedEvents;
      if (pending.length === 0) return undefined;
      const metadata = saveOptions.metadata;
      const result = await store.appendToStream(
        streamOf(aggregate.id),
        pending.map((event) => (metadata ? { ...event, metadata: { ...metadata } } : event)),
        { expectedVersion: aggregate.version },
      );
      aggregate.markCommitted(result.nextExpectedVersion);
      return result;
    },
    async update(id, change, updateOptions) {
      for (let attempt = 1; ; attempt++) {
        const aggregate = await repository.load(id);
        await change(aggregate);
        try {
          await repository.save(aggregate, updateOptions);
          return aggregate;
        } catch (error) {
          if (!isConcurrencyError(error) || attempt > maxRetries) throw error;
        }
      }
    },
  };
  return repository;
}
