import { ConfigError, toError } from '../core/errors.ts';
import type { CheckpointStore } from './checkpoints.ts';
import type { AppendWatcher, DomainEvent, EventFilter, EventStore, RecordedEvent } from './event-store.ts';

/**
 * A read model fed by events. `handle` gets each matching event once, in global order, with the
 * unit of work of the checkpoint store (a PostgreSQL client inside a transaction for
 * `postgresCheckpointStore`): write the read model through it and the write commits together
 * with the checkpoint.
 *
 * @example
 * ```ts
 * const counts = new Map<string, number>();
 * const eventCounts: Projection<undefined> = {
 *   name: 'event-counts',
 *   handle: (event) => void counts.set(event.type, (counts.get(event.type) ?? 0) + 1),
 *   reset: () => counts.clear(),
 * };
 * ```
 */
export interface Projection<Tx = unknown, E extends DomainEvent = DomainEvent> {
  /** Unique per read model: it names the checkpoint. */
  name: string;
  /** Which events it wants (category, stream prefix, types). Default: all. */
  filter?: EventFilter;
  handle(event: RecordedEvent<E>, tx: Tx): void | Promise<void>;
  /** Empties the read model, for a rebuild from zero. */
  reset?(tx: Tx): void | Promise<void>;
}

/** Where a projection is. */
export type ProjectionState = 'stopped' | 'catching-up' | 'live' | 'failed';

export interface ProjectionStatus {
  name: string;
  state: ProjectionState;
  /** Global position of the last event applied (or skipped by the filter). */
  position: number;
  /** The store's head position. */
  head: number;
  /** `head - position`: positions not yet looked at. */
  lag: number;
  /** Why it failed, when `state` is `failed`. */
  error?: Error;
}

export interface ProjectionRunnerOptions<Tx, E extends DomainEvent> {
  store: EventStore<E>;
  projection: Projection<Tx, E>;
  checkpoints: CheckpointStore<Tx>;
  /** Events read per round trip. Default 500. */
  batchSize?: number;
  /** Events applied per unit of work. Default 100 with a transactional checkpoint store, 1 without. */
  eventsPerTransaction?: number;
}

/**
 * Runs one projection: catches up from its checkpoint, then follows new events. Idempotent by
 * global position: an event at or below the checkpoint (read inside the unit of work) is never
 * applied again, so a restart after a crash, or a second runner of the same projection, does
 * not apply anything twice.
 *
 * @example
 * ```ts
 * const runner = new ProjectionRunner({ store, projection: orderSummaries, checkpoints: memoryCheckpointStore() });
 * runner.start();
 * await runner.waitForPosition(await store.headPosition());
 * console.log(await runner.status()); // { state: 'live', position: 42, head: 42, lag: 0, … }
 * ```
 */
export class ProjectionRunner<Tx = unknown, E extends DomainEvent = DomainEvent> {
  readonly #store: EventStore<E>;
  readonly #projection: Projection<Tx, E>;
  readonly #checkpoints: CheckpointStore<Tx>;
  readonly #batchSize: number;
  readonly #perTransaction: number;
  #state: ProjectionState = 'stopped';
  #error: Error | undefined;
  #position = 0;
  #running: Promise<void> | undefined;
  #watcher: AppendWatcher | undefined;
  #stopping = false;
  readonly #waiters = new Set<{ position: number; resolve: () => void; reject: (error: Error) => void }>();

  constructor(options: ProjectionRunnerOptions<Tx, E>) {
    const problems: string[] = [];
    const name = options.projection?.name;
    if (typeof name !== 'string' || name === '') problems.push('projection: name must be a non-empty string');
    if (typeof options.projection?.handle !== 'function') problems.push(`projection "${name}": handle must be a function`);
    this.#batchSize = options.batchSize ?? 500;
    this.#perTransaction = options.eventsPerTransaction ?? (options.checkpoints?.transactional ? 100 : 1);
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1) problems.push(`projection "${name}": batchSize must be an integer ≥ 1`);
    if (!Number.isInteger(this.#perTransaction) || this.#perTransaction < 1) problems.push(`projection "${name}": eventsPerTransaction must be an integer ≥ 1`);
    ConfigError.throwIfAny(problems);
    this.#store = options.store;
    this.#projection = options.projection;
    this.#checkpoints = options.checkpoints;
  }

  get name(): string {
    return this.#projection.name;
  }

  /** Starts catching up in the background (no-op when running). Failures show in `status()` and reject waiters. */
  start(): void {
    if (this.#running) return;
    this.#stopping = false;
    this.#error = undefined;
    this.#state = 'catching-up';
    this.#watcher = this.#store.watchAppends();
    this.#running = this.#run();
  }

  /** Stops after the unit of work in flight (it commits or rolls back as a whole). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#watcher?.stop();
    await this.#running;
    if (this.#state !== 'failed') this.#state = 'stopped';
  }

  /**
   * Rebuild from zero: stops, empties the read model (`projection.reset`) and sets the checkpoint
   * to 0 in one unit of work, then starts again.
   */
  async rebuild(): Promise<void> {
    const reset = this.#projection.reset;
    if (!reset) throw new ConfigError(`projection "${this.name}" has no reset(): it cannot be rebuilt from zero`);
    await this.stop();
    await this.#checkpoints.transaction(async (tx) => {
      await this.#checkpoints.load(this.name, tx);
      await reset.call(this.#projection, tx);
      await this.#checkpoints.save(this.name, 0, tx);
    });
    this.#position = 0;
    this.start();
  }

  /** Resolves once the projection has looked at every position up to `position`; rejects if it fails first. */
  waitForPosition(position: number): Promise<void> {
    if (this.#position >= position) return Promise.resolve();
    if (this.#state === 'failed') return Promise.reject(this.#error);
    return new Promise<void>((resolve, reject) => this.#waiters.add({ position, resolve, reject }));
  }

  /** Resolves once it has caught up with the store's head as of now. */
  async waitForHead(): Promise<void> {
    await this.waitForPosition(await this.#store.headPosition());
  }

  async status(): Promise<ProjectionStatus> {
    const head = await this.#store.headPosition();
    const position = this.#running ? this.#position : await this.#checkpoints.get(this.name);
    const status: ProjectionStatus = { name: this.name, state: this.#state, position, head, lag: Math.max(0, head - position) };
    if (this.#error) status.error = this.#error;
    return status;
  }

  async #run(): Promise<void> {
    const watcher = this.#watcher!;
    try {
      this.#advance(await this.#checkpoints.get(this.name));
      while (!this.#stopping) {
        watcher.reset();
        const page = await this.#store.readAllPage({ from: this.#position + 1, limit: this.#batchSize, filter: this.#projection.filter });
        const events = page.events;
        let rewound = false;
        for (let i = 0; i < events.length && !this.#stopping && !rewound; i += this.#perTransaction) {
          const chunk = events.slice(i, i + this.#perTransaction);
          const last = i + this.#perTransaction >= events.length ? page.next - 1 : chunk[chunk.length - 1]!.position;
          rewound = !this.#advanceTo(await this.#apply(chunk, this.#position, last), last);
        }
        if (rewound) continue; // the checkpoint went back (a rebuild): read again from it
        if (page.error && !this.#stopping) throw page.error; // after the events before it: the checkpoint stops right there
        if (events.length === 0 && page.next - 1 > this.#position && !this.#advanceTo(await this.#apply([], this.#position, page.next - 1), page.next - 1)) continue;
        // A short page is the head only when the read did not stop early (see AllPage.more).
        if (events.length < this.#batchSize && !page.more && !this.#stopping) {
          this.#state = 'live';
          await watcher.wait();
        }
      }
    } catch (error) {
      this.#state = 'failed';
      this.#error = toError(error);
      for (const waiter of this.#waiters) waiter.reject(this.#error);
      this.#waiters.clear();
    } finally {
      watcher.stop();
      this.#running = undefined; // start() may run it again (after a failure, too)
    }
  }

  /**
   * One unit of work: re-reads the checkpoint (locking it), applies newer events, saves. `after`
   * is the checkpoint the events were read after. Found lower, it was set back since — a rebuild
   * (by another runner of this projection, too) reset it and emptied the read model — and the
   * events between it and `after` must be applied first: nothing is applied, and the checkpoint
   * is returned for the caller to read from there.
   */
  #apply(events: readonly RecordedEvent<E>[], after: number, through: number): Promise<number> {
    return this.#checkpoints.transaction(async (tx) => {
      const current = await this.#checkpoints.load(this.name, tx);
      if (current < after) return current;
      for (const event of events) {
        if (event.position <= current) continue;
        await this.#projection.handle(event, tx);
      }
      if (through > current) {
        await this.#checkpoints.save(this.name, through, tx);
        return through;
      }
      return current;
    });
  }

  /** Moves to where a unit of work left the checkpoint; false when that is before `through` (it was set back). */
  #advanceTo(position: number, through: number): boolean {
    this.#advance(position);
    return position >= through;
  }

  #advance(position: number): void {
    this.#position = position;
    for (const waiter of this.#waiters) {
      if (waiter.position <= position) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }
}
