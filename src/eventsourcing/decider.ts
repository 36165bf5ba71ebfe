import type { DomainEvent } from './event-store.ts';

/**
 * The functional aggregate model: state is a left fold of events with `evolve`, and `decide`
 * turns a command and the current state into new events (or throws to reject the command).
 * Both are pure, so they are tested as Given/When/Then without a store (`DeciderSpecification`).
 *
 * @example
 * ```ts
 * const counter: Decider<{ n: number }, { type: 'Add'; by: number }, DomainEvent<'Added', { by: number }>> = {
 *   initialState: () => ({ n: 0 }),
 *   decide: (command) => [{ type: 'Added', data: { by: command.by } }],
 *   evolve: (state, event) => ({ n: state.n + event.data.by }),
 * };
 * ```
 */
export interface Decider<State, Command, Event extends DomainEvent> {
  /** A fresh state (called once per load, so it may return a mutable object). */
  initialState(): State;
  /** The events a command produces in this state. Throw to reject the command. */
  decide(command: Command, state: State): Event | readonly Event[] | Promise<Event | readonly Event[]>;
  /** The state after one event. Must not throw for events it already accepted once. */
  evolve(state: State, event: Event): State;
}

/**
 * Folds events into a state with a decider's `evolve`.
 *
 * @example
 * ```ts
 * const state = evolveAll(orderDecider, orderDecider.initialState(), await store.readStream('order-1'));
 * ```
 */
export function evolveAll<State, Event extends DomainEvent>(
  decider: Pick<Decider<State, unknown, Event>, 'evolve'>,
  state: State,
  events: Iterable<Event>,
): State {
  let current = state;
  for (const event of events) current = decider.evolve(current, event);
  return current;
}

/**
 * Runs `decide` and always returns an array.
 *
 * @example
 * ```ts
 * const events = await decideAll(orderDecider, { type: 'PlaceOrder', customerId: 'c-1' }, state);
 * ```
 */
export async function decideAll<State, Command, Event extends DomainEvent>(
  decider: Pick<Decider<State, Command, Event>, 'decide'>,
  command: Command,
  state: State,
): Promise<Event[]> {
  const result = await decider.decide(command, state);
  return Array.isArray(result) ? [...(result as readonly Event[])] : [result as Event];
}
