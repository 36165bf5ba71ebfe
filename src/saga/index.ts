/**
 * `switchyard/saga`: orchestrated sagas (steps, compensations, persistence, recovery), saga
 * stores (memory, PostgreSQL, embedded), saga events, choreography helpers with correlation
 * headers, a deadline watcher, state-machine sagas and Given/When/Then specifications.
 */
export {
  defineSaga,
  validateSaga,
  actionKey,
  compensationKey,
  type SagaDefinition,
  type SagaStep,
  type SagaBuilder,
  type StepContext,
  type RetryPolicy,
} from './definition.ts';
export { SagaOrchestrator, type OrchestratorOptions, type SagaHandle, type SagaMetrics, type SagaLogger } from './orchestrator.ts';
export { retrySaga } from './retry-saga.ts';
export {
  SAGA_STATUSES,
  UNFINISHED_STATUSES,
  isSettled,
  type SagaStatus,
  type SagaRecord,
  type NewSagaRecord,
  type StepRecord,
  type PendingMessage,
  type SagaStore,
  type SagaQuery,
  type Lease,
  type ClaimFilter,
} from './saga-store.ts';
export { memorySagaStore, type MemorySagaStoreOptions } from './memory-saga-store.ts';
export { postgresSagaStore, type PostgresSagaStore, type PostgresSagaStoreOptions } from './postgres-saga-store.ts';
export { embeddedSagaStore, type EmbeddedSagaStore, type EmbeddedSagaStoreOptions } from './embedded-saga-store.ts';
export { SAGA_EVENTS_TOPIC, SAGA_EVENT_HEADER, SAGA_EVENT_TYPES, sagaEventMessage, type SagaEvent, type SagaEventType } from './events.ts';
export {
  react,
  startChain,
  causedBy,
  Choreography,
  CORRELATION_HEADER,
  CAUSATION_HEADER,
  type ChoreographyEvent,
  type ReactionOptions,
} from './choreography.ts';
export {
  runStateMachine,
  type SagaStateMachine,
  type SagaTimedOut,
  type SagaOutput,
  type StateMachineRunOptions,
  type StateMachineRunner,
} from './state-machine.ts';
export { deadlineWatcher, watchDeadlines, type DeadlineOptions, type DeadlineState, type DeadlineEvent, type DeadlineMissed } from './deadline-watcher.ts';
export { SagaSpecification, type SagaGiven, type SagaThen } from './specification.ts';
