import type { SagaEvent } from './events.ts';

/**
 * Where a saga instance is. `initiated` → `in_progress` → `completed`, or on a failure
 * `compensating` → `rolled_back`, or `compensation_failed` when a compensation kept failing (a
 * retry command puts it back to `compensating`).
 */
export type SagaStatus = 'initiated' | 'in_progress' | 'completed' | 'compensating' | 'rolled_back' | 'compensation_failed';

/** Every status, in lifecycle order. */
export const SAGA_STATUSES: readonly SagaStatus[] = ['initiated', 'in_progress', 'completed', 'compensating', 'rolled_back', 'compensation_failed'];

/** Statuses an orchestrator still has work to do in (`compensation_failed` waits for a retry command). */
export const UNFINISHED_STATUSES: readonly SagaStatus[] = ['initiated', 'in_progress', 'compensating'];

/**
 * True for `completed`, `rolled_back` and `compensation_failed`: nothing runs until a command says so.
 *
 * @example
 * ```ts
 * const pending = (await store.list()).filter((r) => !isSettled(r.status));
 * ```
 */
export function isSettled(status: SagaStatus): boolean {
  return !UNFINISHED_STATUSES.includes(status);
}

/** One entry of an instance's step history. */
export interface StepRecord {
  /** Step name. */
  readonly step: string;
  /** Step position in the definition. */
  readonly index: number;
  readonly kind: 'action' | 'compensation';
  readonly outcome: 'completed' | 'failed' | 'timed_out';
  /** Tries it took (in the run that recorded it). */
  readonly attempts: number;
  /** ms since epoch. */
  readonly at: number;
  /** The action's result (completed actions only). */
  readonly output?: unknown;
  readonly error?: string;
}

/** A message a state-machine saga decided to send, kept with its state until published. */
export interface PendingMessage {
  readonly topic: string;
  readonly id: string;
  readonly key?: string;
  readonly headers: Record<string, string>;
  /** The payload, base64. */
  readonly payload: string;
}

/** A persisted saga instance: everything needed to resume it in another process. */
export interface SagaRecord {
  readonly id: string;
  /** The definition's (or state machine's) name. */
  readonly saga: string;
  readonly status: SagaStatus;
  /** Grows by one on every write; writes name the version they read (optimistic concurrency). */
  readonly version: number;
  /** The saga's input; for a state machine, `{ correlationId }`: what its `correlate` returned. */
  readonly input: unknown;
  /**
   * Orchestrated sagas: the step running (`in_progress`) or being compensated (`compensating`);
   * -1 once nothing is left to compensate.
   */
  readonly step: number;
  readonly history: readonly StepRecord[];
  /** Why the saga failed, once it did. */
  readonly error?: string;
  /** State-machine sagas: the current state. */
  readonly state?: unknown;
  /** State-machine sagas: when a timeout is due, ms since epoch. */
  readonly deadlineAt?: number;
  /** State-machine sagas: ids of the last messages handled, for deduplication. */
  readonly handled?: readonly string[];
  /** State-machine sagas: messages of the last transition, re-published when it is replayed. */
  readonly pending?: readonly PendingMessage[];
  /** The event of the last transition, re-published on recovery (same id) in case it was lost. */
  readonly lastEvent?: SagaEvent;
  /**
   * Orchestrated sagas: a compensation kept failing and is being reported (the
   * `saga.compensation.failed` event, which is `lastEvent`, and the dead-letter record); the
   * instance, still `compensating` meanwhile, settles in `compensation_failed` once both went
   * out. Whoever resumes it after a crash finishes the report instead of compensating again.
   */
  readonly compensationFailure?: { readonly step: string; readonly attempts: number; readonly error: string };
  /** The orchestrator driving the instance, while its lease lasts. */
  readonly owner?: string;
  /** When the owner's lease ends, ms since epoch (store clock). */
  readonly leaseUntil?: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What `create` needs; the store fills in version, times and the lease. */
export type NewSagaRecord = Omit<SagaRecord, 'version' | 'createdAt' | 'updatedAt' | 'owner' | 'leaseUntil'>;

/** A claim on instances: who, and for how long (renewed on every write that names it). */
export interface Lease {
  readonly owner: string;
  readonly ms: number;
}

/** Which instances `claim` may take. */
export interface ClaimFilter {
  /** Only instances of these sagas (the ones the caller can run). */
  sagas?: readonly string[];
  /** Never these ids (the ones the caller is driving right now). */
  exclude?: readonly string[];
}

/** Filters for `list`. */
export interface SagaQuery {
  status?: readonly SagaStatus[];
  saga?: string;
  /** Most records returned, newest first: a whole number ≥ 0 (else ConfigError). Default 100. */
  limit?: number;
  /** Skips this many (paging): a whole number ≥ 0 (else ConfigError). */
  offset?: number;
}

/**
 * Where saga instances live between transitions. Every write is a compare-and-set on `version`:
 * a write naming a version that is no longer current rejects with ConcurrencyError and changes
 * nothing. Leases keep two orchestrators from driving one instance: `acquire` and `claim` take
 * only instances whose lease has ended (or is the caller's), and bump the version so the previous
 * owner's next write fails.
 *
 * Every implementation (memory, PostgreSQL, embedded) runs `describeSagaStore` from
 * `switchyard/testing`. Records returned are copies or frozen: changing one never changes what is
 * stored.
 */
export interface SagaStore {
  /** Short name for logs: `memory`, `postgres`, `embedded`. */
  readonly name: string;
  /**
   * Stores a new instance at version 1, leased to `lease.owner` when given. Rejects with
   * ConcurrencyError (expected 0) when the id exists.
   */
  create(record: NewSagaRecord, lease?: Lease): Promise<SagaRecord>;
  get(id: string): Promise<SagaRecord | undefined>;
  /**
   * Writes `record` if the stored version is still `record.version`; returns it at version + 1.
   * With `lease`, sets the owner and renews the lease; without, stores `owner` as given (absent
   * clears it) and drops the lease. Rejects with ConcurrencyError otherwise.
   */
  update(record: SagaRecord, lease?: Lease): Promise<SagaRecord>;
  /** Takes one unfinished instance if its lease ended or is the caller's. Undefined otherwise. */
  acquire(id: string, lease: Lease): Promise<SagaRecord | undefined>;
  /**
   * Takes up to `limit` unfinished instances whose lease ended or is the caller's, least recently
   * written first. Concurrent callers never get the same instance.
   */
  claim(lease: Lease, limit: number, options?: ClaimFilter): Promise<SagaRecord[]>;
  /** Extends the caller's leases; returns the ids it still holds. */
  renew(ids: readonly string[], lease: Lease): Promise<string[]>;
  /** Newest first. */
  list(query?: SagaQuery): Promise<SagaRecord[]>;
  /** Releases what the store opened itself (not a pool it was given). */
  close(): Promise<void>;
}
