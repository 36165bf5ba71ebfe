import { ConfigError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { CORRELATION_HEADER } from './choreography.ts';
import type { SagaStatus } from './saga-store.ts';
import { runStateMachine, type SagaStateMachine, type SagaTimedOut, type StateMachineRunner, type StateMachineRunOptions } from './state-machine.ts';

/** What a deadline watcher waits for. */
export interface DeadlineOptions {
  /** Names the watcher (its records and consumer group). */
  name: string;
  /** The event that opens the wait (its correlation id, or its id when it starts a chain, names the conversation). */
  start: string;
  /** The event that must follow within `withinMs`, in the same conversation. */
  expect: string;
  withinMs: number;
  /** Published when `expect` did not arrive in time; compensation reactions subscribe to it. */
  timeoutTopic: string;
}

/** A watched conversation. */
export interface DeadlineState {
  readonly phase: 'idle' | 'waiting' | 'arrived' | 'timed_out';
  /** ms since epoch, while waiting. */
  readonly deadline?: number;
  /** The start event's payload, handed to the timeout event. */
  readonly started?: unknown;
  readonly correlationId?: string;
}

/** The events a deadline watcher sees. */
export type DeadlineEvent =
  | { readonly type: 'started'; readonly at: number; readonly payload: unknown; readonly correlationId: string }
  | { readonly type: 'arrived' };

/** The payload of a timeout event; `T` is the payload of the event that opened the wait. */
export interface DeadlineMissed<T = unknown> {
  readonly correlationId: string;
  readonly expected: string;
  readonly deadline: number;
  /** The payload of the event that opened the wait. */
  readonly started: T;
}

const statusOf: Record<DeadlineState['phase'], SagaStatus> = {
  idle: 'in_progress',
  waiting: 'in_progress',
  arrived: 'completed',
  timed_out: 'rolled_back',
};

/**
 * The deadline watcher as a pure state machine: `start` opens a wait, `expect` closes it, and a
 * missed deadline decides a `timeoutTopic` event (with the conversation's correlation id) that
 * compensation reactions listen to. Run it with `watchDeadlines` (or `runStateMachine`).
 *
 * @example
 * ```ts
 * const machine = deadlineWatcher({ name: 'shipping-sla', start: 'orders.placed', expect: 'shipment.created',
 *                                   withinMs: 60_000, timeoutTopic: 'orders.sla-missed' });
 * ```
 */
export function deadlineWatcher(options: DeadlineOptions): SagaStateMachine<DeadlineState, DeadlineEvent> {
  const problems: string[] = [];
  for (const key of ['name', 'start', 'expect', 'timeoutTopic'] as const) {
    if (typeof options?.[key] !== 'string' || options[key] === '') problems.push(`deadlineWatcher: ${key} must be a non-empty string`);
  }
  if (!(typeof options?.withinMs === 'number' && options.withinMs > 0)) problems.push(`deadlineWatcher: withinMs must be a positive number of ms`);
  ConfigError.throwIfAny(problems);
  const decoder = new TextDecoder();
  return {
    name: options.name,
    topics: [options.start, options.expect],
    toEvent(message: Message): DeadlineEvent | undefined {
      if (message.topic === options.start) {
        let payload: unknown = null;
        try {
          payload = JSON.parse(decoder.decode(message.payload));
        } catch {
          // not JSON: the timeout event carries null
        }
        return { type: 'started', at: message.timestamp, payload, correlationId: message.headers[CORRELATION_HEADER] || message.id };
      }
      return message.topic === options.expect ? { type: 'arrived' } : undefined;
    },
    correlate(_event, message) {
      return message.headers[CORRELATION_HEADER] || (message.topic === options.start ? message.id : undefined);
    },
    initialState: () => ({ phase: 'idle' }),
    decide(event: DeadlineEvent | SagaTimedOut, state: DeadlineState) {
      if (event.type !== 'saga.timed_out' || state.phase !== 'waiting') return [];
      const missed: DeadlineMissed = { correlationId: state.correlationId ?? '', expected: options.expect, deadline: event.deadline, started: state.started };
      return [{ topic: options.timeoutTopic, payload: missed }];
    },
    evolve(state: DeadlineState, event: DeadlineEvent | SagaTimedOut): DeadlineState {
      switch (event.type) {
        case 'started':
          // The expected event may have overtaken the start: then there is nothing to wait for.
          return state.phase === 'idle'
            ? { phase: 'waiting', deadline: event.at + options.withinMs, started: event.payload, correlationId: event.correlationId }
            : state;
        case 'arrived':
          return { phase: 'arrived' };
        case 'saga.timed_out':
          return state.phase === 'waiting' ? { phase: 'timed_out', started: state.started, correlationId: state.correlationId! } : state;
      }
    },
    deadline: (state) => (state.phase === 'waiting' ? state.deadline : undefined),
    status: (state) => statusOf[state.phase],
  };
}

/**
 * Runs a deadline watcher on a transport with a saga store: deadlines are persisted, so they
 * survive a restart.
 *
 * @example
 * ```ts
 * const watcher = await watchDeadlines(
 *   { name: 'shipping-sla', start: 'orders.placed', expect: 'shipment.created', withinMs: 60_000, timeoutTopic: 'orders.sla-missed' },
 *   { transport: bus, store: memorySagaStore() },
 * );
 * await react(bus, 'orders.sla-missed', { group: 'inventory' }, async (e) => releaseReservation(e.payload));
 * ```
 */
export function watchDeadlines(options: DeadlineOptions, run: StateMachineRunOptions): Promise<StateMachineRunner> {
  return runStateMachine(deadlineWatcher(options), run);
}
