/**
 * `switchyard/eventsourcing`: an event store with optimistic concurrency (memory, embedded and
 * PostgreSQL backends), deciders and a class-based aggregate helper, a retrying command handler,
 * snapshots, checkpointed projections, upcasting, publishing appended events to any transport,
 * and Given/When/Then specifications for deciders.
 *
 * `pg` is imported (as types only) by the PostgreSQL backend; you pass it a Pool.
 */
export type {
  DomainEvent,
  EventMetadata,
  NewEvent,
  EventEnvelope,
  RecordedEvent,
  ExpectedVersion,
  AppendOptions,
  AppendResult,
  ReadStreamOptions,
  EventFilter,
  ReadAllOptions,
  AllPage,
  EventSubscribeOptions,
  EventSubscription,
  EventStore,
  AppendWatcher,
  StoredEvent,
  EventToStore,
  EventStorage,
  StoragePage,
} from './event-store.ts';
export { streamCategory, matchesFilter } from './event-store.ts';
export { createEventStore, type EventStoreOptions } from './create-event-store.ts';
export { memoryEventStore, MemoryEventStorage } from './memory-event-store.ts';
export { postgresEventStore, PostgresEventStorage, type PostgresEventStoreOptions, type TransactionalOutbox } from './postgres-event-store.ts';
export { embeddedEventStore, EmbeddedEventStorage, type EmbeddedEventStoreOptions } from './embedded-event-store.ts';
export { embeddedSnapshotStore } from './embedded-snapshot-store.ts';
export { postgresTables, type PostgresTableOptions, type PostgresTables } from './postgres-tables.ts';
export { type Decider, evolveAll, decideAll } from './decider.ts';
export { Aggregate, aggregateRepository, type AggregateRepository } from './aggregate.ts';
export { commandHandler, type CommandHandler, type CommandHandlerOptions, type CommandResult, type HandleOptions } from './command-handler.ts';
export { loadAggregate, saveSnapshot, type LoadedAggregate } from './load-aggregate.ts';
export {
  memorySnapshotStore,
  resolveSnapshots,
  snapshotDue,
  type Snapshot,
  type SnapshotStore,
  type SnapshotPolicy,
  type SnapshotOptions,
  type ResolvedSnapshots,
} from './snapshots.ts';
export { postgresSnapshotStore, type PostgresSnapshotStoreOptions } from './postgres-snapshot-store.ts';
export { memoryCheckpointStore, type CheckpointStore } from './checkpoints.ts';
export { postgresCheckpointStore, type PostgresCheckpointStoreOptions } from './postgres-checkpoint-store.ts';
export { ProjectionRunner, type Projection, type ProjectionRunnerOptions, type ProjectionState, type ProjectionStatus } from './projection.ts';
export { defineUpcasters, noUpcasting, type Upcaster, type UpcasterMap, type Upcasting, type UpcastInput } from './upcasting.ts';
export { eventToMessage, eventPublisher, EVENT_HEADERS, type PublishOptions, type EventPublisherOptions } from './publish.ts';
export { DeciderSpecification, type DeciderGiven, type DeciderWhen, type ErrorExpectation } from './specification.ts';
