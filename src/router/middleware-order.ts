import type { Middleware } from './types.ts';

/** The middleware whose place in the chain decides whether the others can do their job. */
export type OrderedRole = 'retry' | 'deadLetter' | 'timeout' | 'idempotency' | 'circuitBreaker';

/**
 * The role of each middleware made by `retry()`, `deadLetter()`, `timeout()`, `idempotency()` and
 * `circuitBreaker()`.
 * Kept beside the functions, not on them: the public `Middleware` type stays as it is, and a
 * user's own middleware that happens to be called `timeout` is not taken for ours.
 */
const roles = new WeakMap<Middleware, OrderedRole>();

/** Marks `middleware` as the one `role` names, for `orderProblems()`; returns it. */
export function withRole<M extends Middleware>(middleware: M, role: OrderedRole): M {
  roles.set(middleware, role);
  return middleware;
}

/**
 * What goes wrong with a chain's order (outermost first), one sentence per mistake, each saying
 * what it costs and where to put the middleware instead. Checked once per route when the router
 * starts, never per message. Three orders break the others silently:
 *
 * - `timeout()` outside `retry()` or `deadLetter()`: when it fires, the attempt inside it has
 *   ended, and an ended attempt is neither retried nor dead-lettered — a message whose handler
 *   keeps timing out went back to the transport on every delivery, for ever.
 * - `idempotency()` outside `retry()` or `deadLetter()`: one claim spans every attempt, and a
 *   message `deadLetter()` took counts as processed — its replay from the DLQ (same id) is skipped
 *   as a duplicate; with the transactional PostgreSQL store the writes of a failed attempt commit
 *   with the next attempt's, or with the dead letter.
 * - `circuitBreaker()` inside `timeout()`: an attempt that timed out counts neither as a failure
 *   nor as a success of the circuit, so a downstream that hangs never opens it; and a message
 *   the open circuit holds times out, then is retried and dead-lettered — while the circuit is
 *   open, nothing should be.
 */
export function orderProblems(chain: readonly Middleware[]): string[] {
  const problems: string[] = [];
  const at = (role: OrderedRole): number => chain.findIndex((m) => roles.get(m) === role);
  const lastOf = (role: OrderedRole): number => chain.findLastIndex((m) => roles.get(m) === role);
  const retry = lastOf('retry');
  const deadLetter = lastOf('deadLetter');
  const inside = (i: number): string =>
    [...(retry > i ? ['retry()'] : []), ...(deadLetter > i ? ['deadLetter()'] : [])].join(' and ');

  const timeout = at('timeout');
  if (timeout !== -1 && (retry > timeout || deadLetter > timeout)) {
    problems.push(
      `timeout() comes before ${inside(timeout)} in use(), so it runs outside them: when it fires, the attempt inside has ended and is ` +
        'neither retried nor dead-lettered — a message whose handler keeps timing out is delivered again for ever. ' +
        'Put timeout() after them: use(retry(), deadLetter(), timeout(ms), idempotency({ store }))',
    );
  }
  const idempotency = at('idempotency');
  if (idempotency !== -1 && (retry > idempotency || deadLetter > idempotency)) {
    problems.push(
      `idempotency() comes before ${inside(idempotency)} in use(), so one claim spans every attempt and a dead-lettered message ` +
        'counts as processed: replaying it from the DLQ is skipped as a duplicate, and with the transactional PostgreSQL store the ' +
        "writes of a failed attempt commit with the next attempt's (or with the dead letter). " +
        'Put idempotency() after retry() and deadLetter(): use(retry(), deadLetter(), idempotency({ store }))',
    );
  }
  const breaker = lastOf('circuitBreaker');
  if (timeout !== -1 && breaker > timeout) {
    problems.push(
      'circuitBreaker() comes after timeout() in use(), so it runs inside it: a downstream that keeps timing out never opens the circuit ' +
        '(an attempt that timed out counts neither way), and a message the open circuit holds times out, then is retried and dead-lettered. ' +
        'Put circuitBreaker() before timeout(): router.use(retry(), deadLetter()) and, per handler, use: [circuitBreaker(…), timeout(ms), idempotency({ store })]',
    );
  }
  return problems;
}
