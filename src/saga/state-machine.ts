import { ConfigError, isConcurrencyError, toError } from '../core/errors.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import type { Subscription, Transport } from '../core/transport.ts';
import { CAUSATION_HEADER, CORRELATION_HEADER } from './choreography.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';
import { isSettled, type PendingMessage, type SagaRecord, type SagaStatus, type SagaStore } from './saga-store.ts';

/** The input a state machine gets when its deadline passed. */
export interface SagaTimedOut {
  readonly type: 'saga.timed_out';
  /** The deadline that passed, ms since epoch. */
  readonly deadline: number;
}

/** A message a state machine decided to send; the runtime encodes `payload` as JSON. */
export interface SagaOutput {
  readonly topic: string;
  readonly payload: unknown;
  readonly key?: string;
  readonly headers?: Record<string, string>;
}

/**
 * A saga as a pure state machine (a process manager): `correlate` finds the instance an event
 * belongs to, `decide` says what to send in reply, `evolve` gives the next state. No I/O: test it
 * with `SagaSpecification`, run it with `runStateMachine` on any transport and saga store.
 */
export interface SagaStateMachine<State, Event extends { readonly type: string }> {
  /** Instance records carry it as their `saga`. */
  readonly name: string;
  /** Topics to consume. */
  readonly topics: readonly string[];
  /** A message as an event, or undefined to ignore it. */
  toEvent(message: Message): Event | undefined;
  /** The instance id (a correlation id, an order id), or undefined to ignore the event. */
  correlate(event: Event, message: Message): string | undefined;
  initialState(): State;
  /** What to send in reply to `event` in `state` (the state before `evolve`). */
  decide(event: Event | SagaTimedOut, state: State): readonly SagaOutput[];
  evolve(state: State, event: Event | SagaTimedOut): State;
  /** When the instance times out in `state` (ms since epoch), or undefined for no deadline. */
  deadline?(state: State): number | undefined;
  /** The status to persist for `state`. Default `in_progress`; settled statuses ignore later events. */
  status?(state: State): SagaStatus;
  /** Whether an event may create an instance. Default: every event may. */
  starts?(event: Event): boolean;
}

/** Where and how a state machine runs. */
export interface StateMachineRunOptions {
  transport: Transport;
  store: SagaStore;
  /** Consumer group of its subscriptions. Default: the machine's name. */
  group?: string;
  /** Messages handled at once (different instances in parallel; writes are optimistic). Default 8. */
  concurrency?: number;
  /** Message ids remembered per instance for deduplication. Default 50. */
  remember?: number;
  /** Called when handling fails (the transport redelivers the message). */
  onError?: (error: Error, message: Message | undefined) => void;
  /**
   * Called after each persisted transition, before its messages are published; for a timeout
   * that settles the instance, also after the write that settles it, once they were published.
   */
  onTransition?: (record: SagaRecord) => void;
}

/** A running state machine. */
export interface StateMachineRunner extends AsyncDisposable {
  /** Stops consuming and cancels deadline timers (deadlines are persisted and re-armed on the next run). */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const TIMEOUT_PREFIX = 'timeout@';
/** Transitions whose messages are kept for replays. */
const KEEP_PENDING = 10;
/** Waits before trying a failed timeout transition again: doubling from the first to the last. */
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Runs a state-machine saga: consumes its topics, persists each instance's state after every
 * event (optimistic concurrency, retried on conflict), publishes what `decide` returned with
 * `x-correlation-id` and `x-causation-id`, and fires `saga.timed_out` at the persisted deadline
 * (re-armed after a restart). Deduplicates redelivered messages (the last `remember` ids per
 * instance); the messages of a transition are stored with it (for the last 10 transitions) and
 * re-published with the same ids when it is replayed, so a crash between the write and the
 * publish loses nothing. Delivery of decided messages is at least once, with stable ids.
 *
 * An instance's record id is `<machine name>:<correlation id>`, so machines sharing a store
 * and a conversation (two deadline watchers on one order) keep a record each. Records written
 * by earlier versions under the bare correlation id are still found (if their `saga` is this
 * machine's name) and kept under that id until the instance ends.
 *
 * @example
 * ```ts
 * const runner = await runStateMachine(paymentSaga, { transport: bus, store: memorySagaStore() });
 * // … later
 * await runner.close();
 * ```
 */
export async function runStateMachine<S, E extends { readonly type: string }>(
  machine: SagaStateMachine<S, E>,
  options: StateMachineRunOptions,
): Promise<StateMachineRunner> {
  if (!machine?.name || !Array.isArray(machine.topics) || machine.topics.length === 0) {
    throw new ConfigError('a state machine needs a name and at least one topic');
  }
  const { transport, store } = options;
  const remember = options.remember ?? 50;
  const timers = new Map<string, NodeJS.Timeout>();
  const subscriptions: Subscription[] = [];
  let closed = false;

  const publish = async (pending: readonly PendingMessage[]): Promise<void> => {
    for (const p of pending) {
      const message: OutgoingMessage = { id: p.id, payload: Buffer.from(p.payload, 'base64'), headers: p.headers, ...(p.key ? { key: p.key } : {}) };
      await transport.publish(p.topic, message);
    }
  };

  /** Sets the timer of `record`'s deadline; `retryMs` is the wait after a failed try (0 before any). */
  const arm = (record: SagaRecord, retryMs = 0): void => {
    clearTimeout(timers.get(record.id));
    timers.delete(record.id);
    if (closed || record.deadlineAt === undefined || isSettled(record.status)) return;
    const timer = setTimeout(
      () => {
        timers.delete(record.id);
        const deadline = record.deadlineAt!;
        // A deadline further away than one timer can wait is waited for in steps.
        if (Date.now() < deadline) return arm(record);
        void apply(keyOf(record), { type: 'saga.timed_out', deadline }, `${TIMEOUT_PREFIX}${deadline}`, undefined).catch((error: unknown) => {
          options.onError?.(toError(error), undefined);
          // Try again later: the deadline is persisted, so nothing is forgotten meanwhile. The
          // wait doubles, so a store that stays down is not hammered (nor onError flooded) by
          // a retry loop as fast as its failures come back.
          if (!closed) arm({ ...record, deadlineAt: deadline }, Math.min(RETRY_MAX_MS, Math.max(RETRY_FIRST_MS, retryMs * 2)));
        });
      },
      // setTimeout fires at once when asked to wait more than 2^31 - 1 ms (~24.8 days): a
      // 30-day deadline would time out the instance right away.
      Math.max(retryMs, Math.min(MAX_TIMER_MS, Math.max(0, record.deadlineAt - Date.now()))),
    );
    // Not unref'd: a pending deadline is work to do; close() clears it.
    timers.set(record.id, timer);
  };

  /**
   * Instance `key`'s record (`key` is what `correlate` returned): under this machine's own id,
   * or under the bare key, where earlier versions kept it — that one only if it is this
   * machine's (another machine may have used the same key).
   */
  const load = async (key: string): Promise<SagaRecord | undefined> => {
    const own = await store.get(recordId(machine.name, key));
    if (own) return own;
    const legacy = await store.get(key);
    return legacy?.saga === machine.name ? legacy : undefined;
  };

  /** The status to persist for `state`. */
  const statusOf = (state: unknown): SagaStatus => machine.status?.(state as S) ?? 'in_progress';

  /**
   * True while a timeout transition that settles the instance is written but not yet settled:
   * its messages may not have gone out (see `apply`). The instance takes no more events.
   */
  const settling = (record: SagaRecord): boolean => !isSettled(record.status) && isSettled(statusOf(record.state));

  /** Publishes the messages of `record`'s transition on input `inputId` (again: same ids). */
  const replay = (record: SagaRecord, inputId: string): Promise<void> =>
    publish((record.pending ?? []).filter((p) => p.id.startsWith(`${record.id}/${inputId}/`)));

  /** Settles a settling instance whose timeout messages went out. */
  const settle = async (record: SagaRecord): Promise<SagaRecord> => {
    for (let current: SagaRecord | undefined = record; ; ) {
      if (!current || !settling(current)) return current ?? record;
      try {
        const saved = await store.update({ ...current, status: statusOf(current.state) });
        options.onTransition?.(saved);
        return saved;
      } catch (error) {
        if (!isConcurrencyError(error)) throw error;
        current = await store.get(current.id); // another runner settled it meanwhile
      }
    }
  };

  /** Sends a settling instance's timeout messages again (same ids), then settles it: its process died in between. */
  const finishSettling = async (record: SagaRecord): Promise<SagaRecord> => {
    const last = record.handled?.at(-1);
    if (last !== undefined) await replay(record, last);
    return settle(record);
  };

  /** One event into one instance: decide, evolve, persist with the outgoing messages, publish. */
  const apply = async (key: string, event: E | SagaTimedOut, inputId: string, message: Message | undefined): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const record = await load(key);
      // Message ids below are derived from the record's id, so a legacy record keeps its own.
      const id = record?.id ?? recordId(machine.name, key);
      if (record && settling(record)) {
        // Its process died between the writes of a timeout transition: finish it.
        arm(await finishSettling(record));
        return;
      }
      if (record?.handled?.includes(inputId)) {
        // A replay (a redelivery after a crash, a second timer): send what that transition
        // decided again, with the same ids, in case the crash came before they were sent.
        await replay(record, inputId);
        return;
      }
      if (record && isSettled(record.status)) return;
      if (!record && (event.type === 'saga.timed_out' || machine.starts?.(event as E) === false)) return;
      if (event.type === 'saga.timed_out' && record?.deadlineAt !== (event as SagaTimedOut).deadline) return; // moved meanwhile
      const state = (record ? record.state : machine.initialState()) as S;
      const outputs = machine.decide(event, state);
      const next = machine.evolve(state, event);
      const correlationId = message?.headers[CORRELATION_HEADER] || key;
      const pending: PendingMessage[] = outputs.map((o, i) => ({
        topic: o.topic,
        id: `${id}/${inputId}/${i}`,
        ...(o.key ? { key: o.key } : {}),
        headers: { 'content-type': 'application/json', [CORRELATION_HEADER]: correlationId, [CAUSATION_HEADER]: message?.id ?? inputId, ...o.headers },
        payload: Buffer.from(encoder.encode(JSON.stringify(o.payload))).toString('base64'),
      }));
      const deadlineAt = machine.deadline?.(next);
      const handled = [...(record?.handled ?? []), inputId].slice(-remember);
      // The messages of the last few transitions stay with the state, for replays.
      const kept = new Set(handled.slice(-KEEP_PENDING).map((h) => `${id}/${h}/`));
      const status = statusOf(next);
      // A message is redelivered until its transition's messages went out; a timeout is not, and
      // a restart re-publishes only unfinished instances' timeouts. So a timeout transition that
      // settles the instance is written unsettled (`settling`), published, and then settled: a
      // crash in between leaves an instance the next run finishes.
      const settleAfterPublish = record !== undefined && event.type === 'saga.timed_out' && pending.length > 0 && isSettled(status);
      const fields = {
        state: next,
        status: settleAfterPublish ? record.status : status,
        handled,
        pending: [...(record?.pending ?? []), ...pending].filter((p) => kept.has(p.id.slice(0, p.id.lastIndexOf('/') + 1))),
        ...(deadlineAt === undefined ? {} : { deadlineAt }),
      };
      let saved: SagaRecord;
      try {
        // A new record keeps the key as its input: a timeout, which has no message, is correlated by it.
        saved = record
          ? await store.update({ ...withoutDeadline(record), ...fields })
          : await store.create({ id, saga: machine.name, input: { correlationId: key }, step: 0, history: [], ...fields });
      } catch (error) {
        if (!isConcurrencyError(error) || attempt >= 20) throw error;
        // Someone else wrote first: read again, after a random wait that grows with the tries.
        // Without it, handlers of one instance retry in lockstep and the same ones keep losing.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 100)));
        continue;
      }
      options.onTransition?.(saved);
      await publish(pending);
      arm(settleAfterPublish ? await settle(saved) : saved);
      return;
    }
  };

  // Re-arm persisted deadlines; re-publish a timeout transition's messages that a crash may have
  // cut off. Every page is read first: settling instances below leave the pages read by offset.
  const unfinished: SagaRecord[] = [];
  for (let offset = 0; ; offset += 500) {
    const page = await store.list({ saga: machine.name, status: ['initiated', 'in_progress', 'compensating'], limit: 500, offset });
    unfinished.push(...page);
    if (page.length < 500) break;
  }
  for (const record of unfinished) {
    const last = record.handled?.at(-1);
    if (settling(record)) arm(await finishSettling(record));
    else {
      if (last?.startsWith(TIMEOUT_PREFIX)) await replay(record, last);
      arm(record);
    }
  }

  for (const topic of machine.topics) {
    subscriptions.push(
      await transport.subscribe(topic, { group: options.group ?? machine.name, concurrency: options.concurrency ?? 8 }, async (message) => {
        try {
          const event = machine.toEvent(message);
          if (event === undefined) return;
          const key = machine.correlate(event, message);
          if (key === undefined) return;
          await apply(key, event, message.id, message);
        } catch (error) {
          options.onError?.(toError(error), message);
          throw error;
        }
      }),
    );
  }

  const close = async (): Promise<void> => {
    closed = true;
    for (const timer of timers.values()) clearTimeout(timer);
    timers.clear();
    await Promise.all(subscriptions.map((s) => s.close()));
  };
  return { close, [Symbol.asyncDispose]: close };
}

/** The record id of instance `key` of machine `name`. */
function recordId(name: string, key: string): string {
  return `${name}:${key}`;
}

/** What `correlate` returned for the instance of `record`: kept as its input, or (legacy records) its id. */
function keyOf(record: SagaRecord): string {
  const input = record.input as { correlationId?: unknown } | null;
  return typeof input?.correlationId === 'string' ? input.correlationId : record.id;
}

function withoutDeadline(record: SagaRecord): SagaRecord {
  const { deadlineAt: _d, ...rest } = record;
  return rest;
}
