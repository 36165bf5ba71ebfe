import { deepStrictEqual } from 'node:assert/strict';
import type { SagaStatus } from './saga-store.ts';
import type { SagaOutput, SagaStateMachine, SagaTimedOut } from './state-machine.ts';

/** The outcome of `when`: assert on what was decided and where the state went. */
export interface SagaThen<State> {
  /** The messages decided, in order (topic and payload; key and headers when given). */
  thenSends(expected: readonly SagaOutput[]): SagaThen<State>;
  /** No message was decided. */
  thenSendsNothing(): SagaThen<State>;
  /** The state after the event. */
  thenState(expected: State): SagaThen<State>;
  /** The status the runtime would persist. */
  thenStatus(expected: SagaStatus): SagaThen<State>;
  /** The deadline the runtime would arm (undefined: none). */
  thenDeadline(expected: number | undefined): SagaThen<State>;
}

/** `given` past events, `when` one more. */
export interface SagaGiven<State, Event extends { readonly type: string }> {
  when(event: Event | SagaTimedOut): SagaThen<State>;
}

/**
 * Given/When/Then for state-machine sagas, without a transport or store: the past events are
 * folded through `evolve`; the new one goes through `decide` and `evolve`. Assertions throw
 * `AssertionError` with a diff, so they work in any test runner. (No `then` method: the result
 * is not a thenable, so an accidental `await` cannot swallow an assertion.)
 *
 * @example
 * ```ts
 * SagaSpecification.for(shippingSla)
 *   .given([{ type: 'started', at: 0, payload: { orderId: 'o-1' }, correlationId: 'c-1' }])
 *   .when({ type: 'saga.timed_out', deadline: 60_000 })
 *   .thenSends([{ topic: 'orders.sla-missed', payload: { correlationId: 'c-1', expected: 'shipment.created', deadline: 60_000, started: { orderId: 'o-1' } } }])
 *   .thenStatus('rolled_back');
 * ```
 */
export const SagaSpecification = {
  for<State, Event extends { readonly type: string }>(machine: SagaStateMachine<State, Event>) {
    return {
      given(events: readonly (Event | SagaTimedOut)[] = []): SagaGiven<State, Event> {
        return {
          when(event) {
            const before = events.reduce((state, e) => machine.evolve(state, e), machine.initialState());
            const outputs = machine.decide(event, before);
            const after = machine.evolve(before, event);
            const self: SagaThen<State> = {
              thenSends(expected) {
                deepStrictEqual(outputs, expected, 'decided messages differ');
                return self;
              },
              thenSendsNothing() {
                deepStrictEqual(outputs, [], 'expected no messages to be decided');
                return self;
              },
              thenState(expected) {
                deepStrictEqual(after, expected, 'state after the event differs');
                return self;
              },
              thenStatus(expected) {
                deepStrictEqual(machine.status?.(after) ?? 'in_progress', expected, 'status differs');
                return self;
              },
              thenDeadline(expected) {
                deepStrictEqual(machine.deadline?.(after), expected, 'deadline differs');
                return self;
              },
            };
            return self;
          },
        };
      },
    };
  },
};
