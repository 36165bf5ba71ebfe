import { ConfigError, isConcurrencyError } from '../core/errors.ts';
import { decideAll, evolveAll, type Decider } from './decider.ts';
import type { DomainEvent, EventMetadata, EventStore, RecordedEvent } from './event-store.ts';
import { loadAggregate, saveDueSnapshot, saveSnapshot } from './load-aggregate.ts';
import { resolveSnapshots, snapshotDue, type SnapshotOptions } from './snapshots.ts';

export interface CommandHandlerOptions<State, Command, Event extends DomainEvent> {
  store: EventStore<Event>;
  decider: Decider<State, Command, Event>;
  /** Stream id of an aggregate id. Default: the id itself (use `(id) => \`order-${id}\`` for categories). */
  streamId?: (id: string) => string;
  /** Snapshot the state per a policy; loads then start from the latest snapshot. */
  snapshots?: SnapshotOptions<State>;
  /** Attempts after the first when another writer got in first. Default 5. */
  maxRetries?: number;
  /** Longest random wait before a retry, in ms (grows with the attempt up to this). Default 20. */
  maxBackoffMs?: number;
}

export interface HandleOptions {
  /** Metadata for every event the command produces (correlationId, causationId, user…). */
  metadata?: EventMetadata;
}

export interface CommandResult<State, Event extends DomainEvent> {
  /** The appended events (empty when the decider produced none). */
  events: RecordedEvent<Event>[];
  /** The state after them. */
  state: State;
  /** The stream version after them. */
  version: number;
  /** 1 when the first try committed; more after conflicts. */
  attempts: number;
}

/** Handles commands for one kind of aggregate. */
export interface CommandHandler<State, Command, Event extends DomainEvent> {
  /**
   * Loads the aggregate, runs `decide`, appends the events expecting the loaded version, and on a
   * ConcurrencyError reloads and tries again, up to `maxRetries` times; after that the last
   * ConcurrencyError is thrown. Errors from `decide` (rejections) are thrown at once.
   */
  handle(id: string, command: Command, options?: HandleOptions): Promise<CommandResult<State, Event>>;
  /** The aggregate's current state and version. */
  load(id: string): Promise<{ state: State; version: number }>;
  /** Takes a snapshot now (the `onDemand` policy's trigger). Needs `snapshots`. */
  snapshot(id: string): Promise<void>;
}

/**
 * A command handler: load → decide → append with the expected version, retrying on conflicts
 * a bounded number of times.
 *
 * @example
 * ```ts
 * const orders = commandHandler({ store, decider: orderDecider, streamId: (id) => `order-${id}` });
 * await orders.handle('o-1', { type: 'AddItem', productId: 'p-1', quantity: 2, priceCents: 2999 });
 * ```
 */
export function commandHandler<State, Command, Event extends DomainEvent>(
  options: CommandHandlerOptions<State, Command, Event>,
): CommandHandler<State, Command, Event> {
  const { store, decider } = options;
  const streamOf = options.streamId ?? ((id: string) => id);
  const maxRetries = options.maxRetries ?? 5;
  const maxBackoffMs = options.maxBackoffMs ?? 20;
  const problems: string[] = [];
  if (!Number.isInteger(maxRetries) || maxRetries < 0) problems.push(`commandHandler: maxRetries must be an integer ≥ 0, got ${maxRetries}`);
  if (!(maxBackoffMs >= 0)) problems.push(`commandHandler: maxBackoffMs must be ≥ 0, got ${maxBackoffMs}`);
  for (const fn of ['initialState', 'decide', 'evolve'] as const) {
    if (typeof decider?.[fn] !== 'function') problems.push(`commandHandler: decider.${fn} must be a function`);
  }
  ConfigError.throwIfAny(problems);
  const snapshots = options.snapshots && resolveSnapshots(options.snapshots);

  return {
    async handle(id, command, handleOptions = {}) {
      const streamId = streamOf(id);
      for (let attempt = 1; ; attempt++) {
        const loaded = await loadAggregate(store, decider, streamId, snapshots);
        const decided = await decideAll(decider, command, loaded.state);
        if (decided.length === 0) return { events: [], state: loaded.state, version: loaded.version, attempts: attempt };
        const metadata = handleOptions.metadata;
        try {
          const result = await store.appendToStream(
            streamId,
            decided.map((event) => (metadata ? { ...event, metadata: { ...metadata } } : event)),
            { expectedVersion: loaded.version },
          );
          const events = result.events as RecordedEvent<Event>[];
          const state = evolveAll(decider, loaded.state, events);
          // Best effort: the events are appended, so the command succeeded whatever the snapshot store says.
          if (snapshots && snapshotDue(snapshots.policy, result.nextExpectedVersion, loaded.snapshotVersion)) {
            await saveDueSnapshot(snapshots, streamId, state, result.nextExpectedVersion);
          }
          return { events, state, version: result.nextExpectedVersion, attempts: attempt };
        } catch (error) {
          if (!isConcurrencyError(error) || attempt > maxRetries) throw error;
          const ceiling = Math.min(maxBackoffMs, attempt * 2);
          if (ceiling > 0) await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
        }
      }
    },

    async load(id) {
      const { state, version } = await loadAggregate(store, decider, streamOf(id), snapshots);
      return { state, version };
    },

    async snapshot(id) {
      if (!snapshots) throw new ConfigError('commandHandler: snapshot() needs the snapshots option');
      const streamId = streamOf(id);
      const { state, version } = await loadAggregate(store, decider, streamId, snapshots);
      if (version > 0) await saveSnapshot(snapshots, streamId, state, version);
    },
  };
}
