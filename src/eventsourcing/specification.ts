import { AssertionError, deepStrictEqual } from 'node:assert';
import { decideAll, evolveAll, type Decider } from './decider.ts';
import type { DomainEvent } from './event-store.ts';

/** What `thenThrows` accepts: an error class, a predicate, a message substring or a RegExp. */
export type ErrorExpectation = (new (...args: never[]) => Error) | ((error: unknown) => boolean) | string | RegExp;

/** `given(events).when(command)`, ready for `then`/`thenThrows`. */
export interface DeciderWhen<Event> {
  /** Asserts the command produced exactly these events (deep equality, order matters). */
  then(expected: readonly Event[]): Promise<void>;
  /** Asserts the command was rejected with a matching error. Resolves to the error. */
  thenThrows(expected?: ErrorExpectation): Promise<Error>;
}

export interface DeciderGiven<Command, Event> {
  when(command: Command): DeciderWhen<Event>;
}

/**
 * Given/When/Then tests for deciders: pure logic, no store, no transport. Works in any test
 * runner (it throws `AssertionError`s with a diff).
 *
 * @example
 * ```ts
 * const spec = DeciderSpecification.for(orderDecider);
 * await spec.given([]).when({ type: 'PlaceOrder' }).thenThrows(/no items/);
 * await spec.given([itemAdded]).when({ type: 'PlaceOrder' }).then([orderPlaced]);
 * ```
 */
export class DeciderSpecification<State, Command, Event extends DomainEvent> {
  readonly #decider: Decider<State, Command, Event>;

  private constructor(decider: Decider<State, Command, Event>) {
    this.#decider = decider;
  }

  static for<State, Command, Event extends DomainEvent>(decider: Decider<State, Command, Event>): DeciderSpecification<State, Command, Event> {
    return new DeciderSpecification(decider);
  }

  /** The events that already happened (may be empty). */
  given(events: readonly Event[]): DeciderGiven<Command, Event> {
    const decider = this.#decider;
    return {
      when(command) {
        const run = async (): Promise<Event[]> => decideAll(decider, command, evolveAll(decider, decider.initialState(), events));
        return {
          // The Given/When/Then vocabulary needs `then`. Awaiting `when(...)` itself would call it
          // with promise callbacks: that case fails loudly instead of asserting nonsense.
          async then(expected, ...promiseCallbacks: unknown[]) {
            if (typeof expected === 'function') {
              const reject = promiseCallbacks[0] as ((reason: unknown) => void) | undefined;
              const error = new TypeError('DeciderSpecification: end with .then([...events]) or .thenThrows(...); do not await .when(...) itself');
              if (!reject) throw error;
              reject(error);
              return;
            }
            let actual: Event[];
            try {
              actual = await run();
            } catch (error) {
              throw new AssertionError({ message: `expected events, but the command was rejected: ${(error as Error)?.message ?? String(error)}`, actual: error, expected });
            }
            deepStrictEqual(actual, [...expected], 'the command produced other events than expected');
          },
          async thenThrows(expected) {
            let events: Event[];
            try {
              events = await run();
            } catch (error) {
              if (expected !== undefined && !matches(error, expected)) {
                throw new AssertionError({
                  message: `the command was rejected, but not as expected (${describeExpectation(expected)}): ${(error as Error)?.message ?? String(error)}`,
                  actual: error,
                  expected,
                });
              }
              return error as Error;
            }
            throw new AssertionError({ message: `expected the command to be rejected, but it produced ${JSON.stringify(events)}`, actual: events });
          },
        };
      },
    };
  }
}

function matches(error: unknown, expected: ErrorExpectation): boolean {
  const message = (error as Error)?.message ?? String(error);
  if (typeof expected === 'string') return message.includes(expected);
  if (expected instanceof RegExp) return expected.test(message);
  if (expected.prototype instanceof Error || expected === Error) return error instanceof (expected as new () => Error);
  return (expected as (error: unknown) => boolean)(error);
}

function describeExpectation(expected: ErrorExpectation): string {
  if (typeof expected === 'string') return `message containing ${JSON.stringify(expected)}`;
  if (expected instanceof RegExp) return `message matching ${expected}`;
  if (expected.prototype instanceof Error || expected === Error) return `an instance of ${expected.name}`;
  return 'the predicate';
}
