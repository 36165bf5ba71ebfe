import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { ClosedError, ConfigError, isConcurrencyError, SwitchyardError, toError } from '../core/errors.ts';
import { MAX_TIMER_MS, timerMsProblem } from '../core/timer-limit.ts';
import { consoleLogger } from '../internal/console-logger.ts';
import { MAX_KEY_BYTES, unstorableText } from '../internal/storable-text.ts';
import type { Transport } from '../core/transport.ts';
import { actionKey, compensationKey, validateSaga, type SagaDefinition, type SagaStep } from './definition.ts';
import { SAGA_EVENT_TYPES, SAGA_EVENTS_TOPIC, sagaEventMessage, type SagaEvent, type SagaEventType } from './events.ts';
import { RecoveryLoop } from './recovery.ts';
import { retrySaga } from './retry-saga.ts';
import { isSettled, type Lease, type SagaQuery, type SagaRecord, type SagaStore } from './saga-store.ts';
import { runWithRetry, StepInterrupted, type StepOutcome } from './step-runner.ts';
import { ensureDeadLetterGroup } from '../router/dead-letter-group.ts';

/** Counts what sagas do; plug prom-client or anything else in. */
export interface SagaMetrics {
  /** One event happened (`saga.completed`, `saga.compensation.failed`, …) in saga `saga`. */
  count(type: SagaEventType, saga: string): void;
}

/** Where the orchestrator logs. */
export interface SagaLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Orchestrator settings. Only `store` and `sagas` are required. */
export interface OrchestratorOptions {
  /** Where instances are persisted after every transition. */
  store: SagaStore;
  /** The definitions this orchestrator can run (and recover). */
  sagas: readonly SagaDefinition[];
  /** Where saga events and dead-letter records are published. Without it, events only reach `onEvent`. */
  transport?: Transport;
  /** Topic of saga events. Default `saga.events`. */
  topic?: string;
  /**
   * The event types published to `topic` (also on recovery). Default: all. `onEvent` and
   * `metrics` get every event either way. Publish only what the topic's consumers need: every
   * event is a message appended and delivered, and a saga has about two per step.
   */
  publish?: readonly SagaEventType[];
  /** Topic of dead-letter records for `compensation_failed` instances. Default `<topic>.dlq`. */
  deadLetterTopic?: string;
  /** This orchestrator's identity in leases. Keep it stable across restarts to resume own instances at once. Default host:pid:random. */
  owner?: string;
  /** How long an instance stays leased without a write or renewal, in ms. Default 30,000. */
  leaseMs?: number;
  /** How often to look for instances to resume (owners gone, retry commands), in ms. 0 = only on start. Default 5,000. */
  recoveryIntervalMs?: number;
  /** Most instances this orchestrator drives at once through recovery. Default 1,000. */
  maxActive?: number;
  /** Called with every event, after it was persisted. Must not throw. */
  onEvent?: (event: SagaEvent) => void;
  metrics?: SagaMetrics;
  logger?: SagaLogger;
  /** How long `close()` lets running steps finish before aborting their signal, in ms. Default 30,000. */
  drainTimeoutMs?: number;
}

/** A saga that was started: its id, and a promise of its final record. */
export interface SagaHandle {
  readonly id: string;
  /** Resolves with the record once this orchestrator settles it (completed, rolled_back or compensation_failed). */
  readonly settled: Promise<SagaRecord>;
}

interface Active {
  readonly stop: AbortController;
  done: Promise<void>;
  /**
   * The publish of the instance's last event, still running while its next step does. Awaited
   * before the next write, which replaces the record's `lastEvent` (what recovery re-publishes).
   */
  emitting: Promise<void> | undefined;
}

const defaultLogger: SagaLogger = consoleLogger('switchyard saga');

/**
 * Runs orchestrated sagas: each step's action in order, each result feeding the next; on a
 * failure (after retries) or a timeout, the completed steps' compensations in reverse order. The
 * instance is persisted after every transition, with optimistic concurrency and a lease, so
 * several orchestrators can share a store and a restarted one resumes where it stopped
 * (`start()`), re-running the current step with the same idempotency key.
 *
 * A compensation that keeps failing puts the instance in `compensation_failed`: it is reported
 * (event, metric, dead-letter record) and waits for `retry(id)` (or `switchyard saga retry`).
 *
 * @example
 * ```ts
 * const orchestrator = new SagaOrchestrator({ store: memorySagaStore(), sagas: [fulfillment], transport: bus });
 * await orchestrator.start();
 * const saga = await orchestrator.begin(fulfillment, { orderId: 'o-1', amount: 99.99 });
 * const record = await saga.settled; // record.status: 'completed' | 'rolled_back' | 'compensation_failed'
 * await orchestrator.close();
 * ```
 */
export class SagaOrchestrator {
  readonly store: SagaStore;
  readonly owner: string;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly #sagas = new Map<string, SagaDefinition>();
  readonly #options: OrchestratorOptions;
  readonly #lease: Lease;
  readonly #active = new Map<string, Active>();
  /**
   * Instances this orchestrator is writing to start driving them (`begin`, `retry`): the recovery
   * scan must not claim them meanwhile — they are its own, so it could — or the claim's version
   * bump makes the drive that follows stop at its first write, and the instance waits for the
   * next scan.
   */
  readonly #starting = new Set<string>();
  readonly #waiters = new Map<string, Array<{ resolve: (record: SagaRecord) => void; reject: (error: Error) => void }>>();
  readonly #idle: Array<() => void> = [];
  readonly #logger: SagaLogger;
  readonly #counts = new Map<SagaEventType, number>();
  readonly #recovery: RecoveryLoop;
  /** Event types published to the transport; undefined: all. */
  readonly #published: ReadonlySet<SagaEventType> | undefined;
  #closing = false;
  #started = false;

  constructor(options: OrchestratorOptions) {
    const problems: string[] = [];
    if (!options?.store || typeof options.store.update !== 'function') problems.push('store is required: memorySagaStore(), postgresSagaStore({ pool })');
    if (!Array.isArray(options?.sagas) || options.sagas.length === 0) problems.push('sagas must list at least one definition (defineSaga(...).build())');
    const leaseMs = options?.leaseMs ?? 30_000;
    // Timers wait at most MAX_TIMER_MS; asked for longer (Infinity included), they fire at once.
    if (!(leaseMs > 0 && leaseMs <= MAX_TIMER_MS)) problems.push(`leaseMs must be a positive number of ms up to ${MAX_TIMER_MS}, got ${JSON.stringify(options?.leaseMs)}`);
    for (const key of ['recoveryIntervalMs', 'drainTimeoutMs'] as const) {
      const problem = timerMsProblem(key, options?.[key]);
      if (problem) problems.push(problem);
    }
    for (const type of options?.publish ?? []) {
      if (!SAGA_EVENT_TYPES.includes(type)) problems.push(`publish lists "${String(type)}", which is not a saga event type (${SAGA_EVENT_TYPES.join(', ')})`);
    }
    ConfigError.throwIfAny(problems);
    for (const definition of options.sagas) {
      const valid = validateSaga(definition);
      if (this.#sagas.has(valid.name)) throw new ConfigError(`saga "${valid.name}" is listed twice`);
      this.#sagas.set(valid.name, valid);
    }
    this.#options = options;
    this.#published = options.publish && new Set(options.publish);
    this.store = options.store;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.topic = options.topic ?? SAGA_EVENTS_TOPIC;
    this.deadLetterTopic = options.deadLetterTopic ?? `${this.topic}.dlq`;
    this.#lease = { owner: this.owner, ms: leaseMs };
    this.#logger = options.logger ?? defaultLogger;
    this.#recovery = new RecoveryLoop({
      store: this.store,
      lease: this.#lease,
      sagas: [...this.#sagas.keys()],
      intervalMs: options.recoveryIntervalMs ?? 5_000,
      maxActive: options.maxActive ?? 1_000,
      active: () => [...this.#active.keys(), ...this.#starting],
      drive: (record) => this.#startDrive(record, true),
      lost: (id) => this.#active.get(id)?.stop.abort(new Error(`lease on saga ${id} lost`)),
      logger: this.#logger,
    });
  }

  /**
   * Resumes every unfinished instance this orchestrator can take (its own at once, others' once
   * their lease ended), then keeps looking every `recoveryIntervalMs` and renews its leases.
   */
  async start(): Promise<void> {
    if (this.#closing) throw new ConfigError('this orchestrator was closed; create a new one');
    if (this.#started) return;
    this.#started = true;
    await this.#recovery.start();
  }

  /** Looks for instances to resume now (owners gone, retry commands) instead of at the next interval. */
  recover(): Promise<number> {
    return this.#recovery.scan();
  }

  /**
   * Persists a new instance (`initiated`, leased to this orchestrator), publishes `saga.started`
   * and drives it. Rejects with ConcurrencyError if `options.id` exists, ConfigError for an
   * unknown saga.
   */
  async begin<I>(saga: SagaDefinition<I, unknown> | string, input: I, options: { id?: string } = {}): Promise<SagaHandle> {
    if (this.#closing) throw new ConfigError('this orchestrator is closing; it starts no new sagas');
    const name = typeof saga === 'string' ? saga : saga.name;
    if (!this.#sagas.has(name)) throw new ConfigError(`unknown saga "${name}"; this orchestrator runs ${[...this.#sagas.keys()].join(', ')}`);
    const id = options.id ?? randomUUID();
    const problems: string[] = [];
    const badId = invalidSagaId(id);
    if (badId !== undefined) problems.push(badId);
    // Checked here, so the caller gets a ConfigError saying why rather than a store's own error
    // (a TypeError from JSON.stringify, or PostgreSQL refusing the jsonb).
    const unstorable = unstorableReason(input);
    if (unstorable !== undefined) problems.push(`saga input cannot be stored as JSON (${unstorable}); pass plain data`);
    ConfigError.throwIfAny(problems);
    this.#recovery.heartbeat();
    const event = this.#event(id, name, 1, { type: 'saga.started' });
    const unmark = this.#markStarting(id);
    try {
      const record = await this.store.create({ id, saga: name, status: 'initiated', input, step: 0, history: [], lastEvent: event }, this.#lease);
      const settled = this.#settled(id);
      this.#startDrive(record, false, this.#emit(event));
      return { id, settled };
    } finally {
      unmark();
    }
  }

  /**
   * `begin` and wait until settled. Rejects with ClosedError if this orchestrator closes first,
   * ConcurrencyError if another orchestrator took the instance over (it carries on there), or a
   * SwitchyardError (`cause`: the store's error) if a store write failed while no recovery scan
   * would resume the instance (`start()` not called, `recoveryIntervalMs: 0`, or closing). With
   * recovery scanning, a failed write is only logged: the next scan resumes the instance.
   */
  async run<I>(saga: SagaDefinition<I, unknown> | string, input: I, options: { id?: string } = {}): Promise<SagaRecord> {
    return (await this.begin(saga, input, options)).settled;
  }

  /** The persisted instance, or undefined. */
  status(id: string): Promise<SagaRecord | undefined> {
    return this.store.get(id);
  }

  /** Persisted instances, newest first. */
  list(query?: SagaQuery): Promise<SagaRecord[]> {
    return this.store.list(query);
  }

  /**
   * Puts a `compensation_failed` instance back to `compensating` and drives it: the failed
   * compensation is tried again, then the earlier ones. Resolves with its next settled record;
   * rejects like `retrySaga` (unknown id, another status, ConcurrencyError if it changed
   * meanwhile) and like `run`.
   */
  async retry(id: string): Promise<SagaRecord> {
    this.#recovery.heartbeat();
    let settled: Promise<SagaRecord>;
    const unmark = this.#markStarting(id);
    try {
      // The write that releases the instance leases it to us: released unowned, another
      // orchestrator's scan could claim it before we did, and this would wait for ever on an
      // instance settled elsewhere.
      const record = await retrySaga(this.store, id, this.#lease);
      settled = this.#settled(id);
      this.#startDrive(record, false);
    } finally {
      unmark();
    }
    return settled;
  }

  /**
   * Resolves with the record when this orchestrator settles instance `id` (at once if it is
   * settled already). Rejects like `run`, and with ConfigError when the store has no instance
   * `id` (nothing would ever settle it).
   */
  async settled(id: string): Promise<SagaRecord> {
    let resolveNow: ((record: SagaRecord) => void) | undefined;
    const waiting = this.#settled(id, (resolve) => (resolveNow = resolve));
    const record = await this.store.get(id);
    if (record && isSettled(record.status) && !this.#active.has(id)) {
      this.#forget(id, resolveNow!);
      return record;
    }
    if (!record && !this.#active.has(id) && !this.#starting.has(id)) {
      this.#forget(id, resolveNow!);
      throw new ConfigError(`settled(${JSON.stringify(id)}): the saga store (${this.store.name}) has no instance with this id; pass the id begin() returned`);
    }
    return waiting;
  }

  /** Resolves once no instance is being driven here. */
  idle(): Promise<void> {
    if (this.#active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Instances driven here right now. */
  get activeCount(): number {
    return this.#active.size;
  }

  /** How many of each event this orchestrator emitted. */
  counts(): Partial<Record<SagaEventType, number>> {
    return Object.fromEntries(this.#counts);
  }

  /**
   * Stops taking work, lets running steps finish (aborting them after `drainTimeoutMs`), persists
   * their outcome and releases the leases, so another orchestrator can continue at once. Idempotent.
   */
  async close(): Promise<void> {
    this.#closing = true;
    // The leases of the steps left to finish stay renewed until they are written.
    await this.#recovery.stopScanning();
    const timer = setTimeout(() => {
      for (const a of this.#active.values()) a.stop.abort(new Error('orchestrator closed'));
    }, this.#options.drainTimeoutMs ?? 30_000);
    timer.unref();
    await Promise.all([...this.#active.values()].map((a) => a.done));
    clearTimeout(timer);
    await this.#recovery.stop();
  }

  /**
   * Keeps `id` out of recovery claims until the returned function is called: after the write that
   * starts it, once it is in `#active` (or the write failed). A start that finds the mark held by
   * another start of the same id gets a no-op.
   */
  #markStarting(id: string): () => void {
    if (this.#starting.has(id)) return () => {};
    this.#starting.add(id);
    return () => this.#starting.delete(id);
  }

  #settled(id: string, expose?: (resolve: (record: SagaRecord) => void) => void): Promise<SagaRecord> {
    const promise = new Promise<SagaRecord>((resolve, reject) => {
      const list = this.#waiters.get(id) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(id, list);
      expose?.(resolve);
    });
    // A handle nobody awaits must not turn a close() into an unhandled rejection.
    promise.catch(() => undefined);
    return promise;
  }

  #forget(id: string, resolve: (record: SagaRecord) => void): void {
    const list = (this.#waiters.get(id) ?? []).filter((w) => w.resolve !== resolve);
    if (list.length > 0) this.#waiters.set(id, list);
    else this.#waiters.delete(id);
  }

  #notify(id: string, outcome: { record: SagaRecord } | { error: Error }): void {
    const waiters = this.#waiters.get(id) ?? [];
    this.#waiters.delete(id);
    for (const w of waiters) {
      if ('record' in outcome) w.resolve(outcome.record);
      else w.reject(outcome.error);
    }
  }

  #startDrive(record: SagaRecord, recovered: boolean, emitting?: Promise<void>): void {
    if (this.#active.has(record.id)) return;
    const active: Active = { stop: new AbortController(), done: Promise.resolve(), emitting };
    this.#active.set(record.id, active);
    active.done = this.#drive(record, recovered, active).finally(() => {
      this.#active.delete(record.id);
      if (this.#active.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
    });
  }

  async #drive(start: SagaRecord, recovered: boolean, active: Active): Promise<void> {
    let record = start;
    const definition = this.#sagas.get(record.saga)!;
    const stop = active.stop.signal;
    try {
      // The last transition's event may not have gone out before a crash: publish it again (same id).
      if (recovered && record.lastEvent) active.emitting = this.#emit(record.lastEvent, true);
      while (!isSettled(record.status)) {
        if (this.#closing || stop.aborted) {
          await active.emitting;
          await this.store.update({ ...record, owner: undefined });
          this.#notify(record.id, { error: new ClosedError(`orchestrator ${this.owner} (saga ${record.id} is left to be resumed)`) });
          return;
        }
        record = await this.#advance(definition, record, active);
      }
      await active.emitting;
      this.#notify(record.id, { record });
    } catch (thrown) {
      await active.emitting; // never rejects: #emit logs what it cannot publish
      if (thrown instanceof StepInterrupted) {
        // Stopped mid-step: leave the step to be re-run (same idempotency key) by whoever resumes.
        await this.store.update({ ...record, owner: undefined }).catch(() => undefined);
        this.#notify(record.id, { error: new ClosedError(`orchestrator ${this.owner} (saga ${record.id} is left to be resumed)`) });
      } else if (isConcurrencyError(thrown)) {
        this.#logger.warn(`saga ${record.id}: another orchestrator took it over; stopping here`, { owner: this.owner });
        this.#notify(record.id, { error: thrown });
      } else if (this.#started && !this.#closing && (this.#options.recoveryIntervalMs ?? 5_000) > 0) {
        // The store failed: the instance stays leased to us and the next recovery scan resumes it
        // (and settles it, which resolves its waiters).
        this.#logger.error(`saga ${record.id}: ${toError(thrown).message}; it will be resumed by recovery`, { owner: this.owner });
      } else {
        // No scan is coming (not started, recoveryIntervalMs 0, or closing): nothing here would
        // resume the instance, so its waiters would wait for ever. Tell them instead.
        const error = new SwitchyardError(
          `saga ${record.id} stopped: ${toError(thrown).message}; it is left in the store where it stopped, for a recovery scan to resume (start() with recoveryIntervalMs > 0, or recover())`,
          { cause: thrown },
        );
        this.#logger.error(error.message, { owner: this.owner });
        this.#notify(record.id, { error });
      }
    }
  }

  /** Performs one transition and returns the persisted record. */
  async #advance(definition: SagaDefinition, record: SagaRecord, active: Active): Promise<SagaRecord> {
    const steps = definition.steps;
    const stop = active.stop.signal;
    switch (record.status) {
      // An initiated instance goes straight to its first step: the step's outcome is its first write.
      case 'initiated':
      case 'in_progress': {
        const index = record.step;
        if (index >= steps.length) {
          return this.#write(active, record, { status: 'completed' }, { type: 'saga.completed', durationMs: Date.now() - record.createdAt });
        }
        const step = steps[index]!;
        const input = index === 0 ? record.input : outputOf(record, index - 1);
        const timeoutMs = step.timeoutMs ?? 30_000;
        const outcome: StepOutcome<unknown> = await runWithRetry(
          (ctx) => step.action(input, ctx),
          { sagaId: record.id, saga: record.saga, step: step.name, idempotencyKey: actionKey(record.id, step.name) },
          { policy: step.retry, defaultAttempts: 3, timeoutMs, perTry: false, what: `saga ${record.id} step "${step.name}"`, stop },
        );
        const at = Date.now();
        const unstorable = outcome.ok ? unstorableReason(outcome.value) : undefined;
        if (outcome.ok && unstorable !== undefined) {
          // The action ran, but what it returned cannot be stored, and the next step's input would be
          // lost to a restart: the saga cannot go on. Retrying would run the action again and again
          // (recovery resumes from the last write), so it fails now — and since the action's effect
          // happened, its own compensation runs first (with no output).
          const error = `step "${step.name}" returned an output that cannot be stored as JSON (${unstorable}); return plain data: no BigInt, no cycles, no U+0000 or lone surrogates in strings`;
          return this.#write(
            active,
            record,
            {
              status: 'compensating',
              step: index,
              error,
              history: [...record.history, { step: step.name, index, kind: 'action', outcome: 'completed', attempts: outcome.attempts, at, error: `output not stored: ${unstorable}` }],
            },
            { type: 'saga.step.failed', step: step.name, index, attempts: outcome.attempts, error, timedOut: false },
          );
        }
        if (outcome.ok) {
          return this.#write(
            active,
            record,
            {
              status: 'in_progress',
              step: index + 1,
              history: [...record.history, { step: step.name, index, kind: 'action', outcome: 'completed', attempts: outcome.attempts, at, output: outcome.value }],
            },
            { type: 'saga.step.completed', step: step.name, index, attempts: outcome.attempts },
          );
        }
        const error = describeError(outcome.error);
        return this.#write(
          active,
          record,
          {
            status: 'compensating',
            step: index - 1,
            error: `step "${step.name}" failed: ${error}`,
            history: [
              ...record.history,
              { step: step.name, index, kind: 'action', outcome: outcome.timedOut ? 'timed_out' : 'failed', attempts: outcome.attempts, at, error },
            ],
          },
          { type: 'saga.step.failed', step: step.name, index, attempts: outcome.attempts, error, timedOut: outcome.timedOut },
        );
      }
      case 'compensating': {
        if (record.compensationFailure) return this.#settleFailed(record, active);
        let index = record.step;
        while (index >= 0 && !(steps[index]!.compensate && completedAction(record, index))) index--;
        if (index < 0) {
          return this.#write(
            active,
            record,
            { status: 'rolled_back', step: -1 },
            { type: 'saga.rolled_back', durationMs: Date.now() - record.createdAt, error: record.error ?? 'rolled back' },
          );
        }
        const step = steps[index]! as SagaStep & { compensate: NonNullable<SagaStep['compensate']> };
        const input = index === 0 ? record.input : outputOf(record, index - 1);
        const output = outputOf(record, index);
        const outcome = await runWithRetry(
          (ctx) => step.compensate(output, { ...ctx, input }),
          { sagaId: record.id, saga: record.saga, step: step.name, idempotencyKey: compensationKey(record.id, step.name) },
          {
            policy: step.compensationRetry,
            defaultAttempts: 5,
            timeoutMs: step.compensationTimeoutMs ?? step.timeoutMs ?? 30_000,
            perTry: true,
            what: `saga ${record.id} compensation of "${step.name}"`,
            stop,
          },
        );
        const at = Date.now();
        if (outcome.ok) {
          return this.#write(
            active,
            record,
            { step: index - 1, history: [...record.history, { step: step.name, index, kind: 'compensation', outcome: 'completed', attempts: outcome.attempts, at }] },
            { type: 'saga.compensation.completed', step: step.name, index, attempts: outcome.attempts },
          );
        }
        const error = describeError(outcome.error);
        // Two writes: the failure with its event first, still `compensating`, so that a crash
        // before the report went out leaves an instance recovery resumes (and reports); then the
        // settling one. Settling at once would leave the event and dead-letter record to a
        // process that may be gone, and nothing resumes a settled instance.
        const failing = await this.#write(
          active,
          record,
          {
            step: index,
            history: [
              ...record.history,
              { step: step.name, index, kind: 'compensation', outcome: outcome.timedOut ? 'timed_out' : 'failed', attempts: outcome.attempts, at, error },
            ],
            compensationFailure: { step: step.name, attempts: outcome.attempts, error },
          },
          { type: 'saga.compensation.failed', step: step.name, index, attempts: outcome.attempts, error },
        );
        return this.#settleFailed(failing, active);
      }
      default:
        return record;
    }
  }

  /**
   * Finishes reporting a compensation that kept failing — its event (published by the write that
   * recorded the failure, or re-published by recovery) and the dead-letter record — and only then
   * settles the instance in `compensation_failed`. Both go out under the same ids however often a
   * crash makes this run again.
   */
  async #settleFailed(record: SagaRecord, active: Active): Promise<SagaRecord> {
    const { compensationFailure: failure, ...rest } = record;
    const settled: SagaRecord = { ...rest, status: 'compensation_failed' };
    await active.emitting;
    active.emitting = undefined;
    // The event's id names the write that recorded the failure; a recovering claim moves the version on.
    await this.#deadLetter(settled, failure!, `${record.lastEvent?.id ?? `${record.id}@${record.version}`}:dlq`);
    // Settled, like #write's settling writes: give up the lease (`owner` stays, saying who settled it).
    return this.store.update(settled);
  }

  /**
   * Persists a transition (renewing the lease) and starts publishing its event. The publish runs
   * on while the next step does; the next write waits for it first, so an event is never replaced
   * as the record's `lastEvent` before it went out.
   */
  async #write(active: Active, record: SagaRecord, patch: Partial<SagaRecord>, event?: DistributiveOmit<SagaEvent, 'id' | 'sagaId' | 'saga' | 'at'>): Promise<SagaRecord> {
    await active.emitting;
    active.emitting = undefined;
    const full = event && this.#event(record.id, record.saga, record.version + 1, event);
    // A settled instance is nobody's to resume: the write that settles it gives up the lease
    // (`owner` stays, saying who settled it).
    const lease = patch.status !== undefined && isSettled(patch.status) ? undefined : this.#lease;
    if (full && finalOutcome(full.type) !== undefined) {
      // Recovery never resumes a settled instance, so nothing would re-publish this event if the
      // process died right after the write: publish it first. These two transitions follow from
      // the record alone, so an instance resumed after a crash before the write makes the same
      // transition again and publishes the event again, under the same id (see #event).
      await this.#publish(full);
      const saved = await this.store.update({ ...record, ...patch, lastEvent: full }, lease);
      this.#announce(full);
      return saved;
    }
    const saved = await this.store.update({ ...record, ...patch, lastEvent: full }, lease);
    if (full) active.emitting = this.#emit(full);
    return saved;
  }

  /**
   * An event with its id: `<sagaId>@<version>` of the write that makes the transition, or
   * `<sagaId>@completed` / `<sagaId>@rolled_back` for the final one, which an instance makes once
   * and which, after a crash before its write, is made again from a record whose version the
   * recovering orchestrator's claim has moved on.
   */
  #event(sagaId: string, saga: string, version: number, body: DistributiveOmit<SagaEvent, 'id' | 'sagaId' | 'saga' | 'at'>): SagaEvent {
    return { ...body, id: `${sagaId}@${finalOutcome(body.type) ?? version}`, sagaId, saga, at: Date.now() } as SagaEvent;
  }

  /** Counts a written transition's event and passes it to `onEvent`, then publishes it; a `replay` (recovery) is only published. */
  async #emit(event: SagaEvent, replay = false): Promise<void> {
    if (!replay) this.#announce(event);
    await this.#publish(event);
  }

  /** Counts an event of a written transition and hands it to `onEvent`. */
  #announce(event: SagaEvent): void {
    this.#counts.set(event.type, (this.#counts.get(event.type) ?? 0) + 1);
    this.#options.metrics?.count(event.type, event.saga);
    try {
      this.#options.onEvent?.(event);
    } catch (error) {
      this.#logger.warn(`onEvent threw for ${event.type}: ${toError(error).message}`);
    }
  }

  /** Publishes an event to the saga topic, if its type is published; a failure is logged, never thrown. */
  async #publish(event: SagaEvent): Promise<void> {
    const transport = this.#options.transport;
    if (!transport || (this.#published && !this.#published.has(event.type))) return;
    try {
      await transport.publish(this.topic, sagaEventMessage(event));
    } catch (error) {
      this.#logger.error(`could not publish ${event.type} of saga ${event.sagaId}: ${toError(error).message}`);
    }
  }

  /** Publishes the failed instance, as it settles, to the dead-letter topic (the store keeps it as well). */
  async #deadLetter(record: SagaRecord, { step, error, attempts }: NonNullable<SagaRecord['compensationFailure']>, id: string): Promise<void> {
    this.#logger.error(`saga ${record.id}: compensation of "${step}" failed ${attempts} times; the saga is compensation_failed until retried`, {
      error,
    });
    const transport = this.#options.transport;
    if (!transport) return;
    const { owner: _o, leaseUntil: _l, ...rest } = record;
    try {
      await ensureDeadLetterGroup(transport, this.deadLetterTopic);
      await transport.publish(this.deadLetterTopic, {
        id,
        key: record.id,
        payload: new TextEncoder().encode(JSON.stringify(rest)),
        headers: {
          'content-type': 'application/json',
          'x-error': error.slice(0, 1_000),
          'x-saga': record.saga,
          'x-saga-id': record.id,
          'x-failed-step': step,
          'x-attempts': String(attempts),
          'x-failed-at': new Date().toISOString(),
          'x-original-topic': this.topic,
          'x-correlation-id': record.id,
        },
      });
    } catch (thrown) {
      this.#logger.error(`could not publish the dead-letter record of saga ${record.id}: ${toError(thrown).message}`);
    }
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Why `value` cannot be stored as JSON by every saga store, or undefined when it can. Besides what
 * JSON.stringify refuses (BigInt, cycles), PostgreSQL's jsonb refuses strings (values or keys)
 * holding U+0000 or a lone UTF-16 surrogate. Such a value must be caught before the write: a
 * write the store keeps refusing looks like a store outage, and recovery would run the step
 * again and again, never settling the saga.
 */
function unstorableReason(value: unknown): string | undefined {
  let problem: string | undefined;
  try {
    JSON.stringify(value, (key: string, v: unknown) => {
      const text = unstorableText(key) ?? (typeof v === 'string' ? unstorableText(v) : undefined);
      if (text !== undefined) problem ??= `the string ${text}`;
      return v;
    });
  } catch (error) {
    return toError(error).message;
  }
  return problem;
}

/**
 * An error as the text kept in the record (`error`, history), made storable: an error message
 * may quote binary data (U+0000, lone surrogates), and a failure that cannot be recorded must not
 * keep the saga from compensating.
 */
function describeError(error: Error): string {
  return `${error.name}: ${error.message}`.replaceAll('\u0000', '\\u0000').toWellFormed();
}

/** Why `id` cannot name a saga instance in every store, or undefined when it can. */
function invalidSagaId(id: unknown): string | undefined {
  if (typeof id !== 'string' || id === '') return `saga id must be a non-empty string, got ${JSON.stringify(id)}`;
  const problem = unstorableText(id, MAX_KEY_BYTES);
  return problem === undefined ? undefined : `saga id ${problem}`;
}

/** The result of the last completed run of step `index`'s action. */
function outputOf(record: SagaRecord, index: number): unknown {
  return completedAction(record, index)?.output;
}

function completedAction(record: SagaRecord, index: number): SagaRecord['history'][number] | undefined {
  return record.history.findLast((h) => h.index === index && h.kind === 'action' && h.outcome === 'completed');
}

/**
 * The outcome a final event settles an instance in (`completed`, `rolled_back`), else undefined.
 * Each happens once per instance and follows from the stored record alone: it is published
 * before the write that settles the instance, and names its outcome rather than a version in its id.
 */
function finalOutcome(type: SagaEvent['type']): 'completed' | 'rolled_back' | undefined {
  return type === 'saga.completed' ? 'completed' : type === 'saga.rolled_back' ? 'rolled_back' : undefined;
}
