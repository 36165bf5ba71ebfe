import { ClosedError, ConfigError, SwitchyardError, toError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { attemptEndedError } from '../router/attempt-context.ts';
import { withRole } from '../router/middleware-order.ts';
import { delay } from '../router/shutdown.ts';
import type { Middleware, RouterContext } from '../router/types.ts';
import type { IdempotencyClaim, IdempotencyStore } from '../stores/idempotency/store.ts';
import { ClaimRenewals, type Renewable } from './claim-renewals.ts';
import { positiveMsProblems } from './option-problems.ts';

type Claimed = Extract<IdempotencyClaim, { status: 'claimed' }>;

/** Idempotency settings. */
export interface IdempotencyOptions {
  /** Where processed keys are kept (memory, Redis, PostgreSQL). */
  store: IdempotencyStore;
  /** The dedup key of a message. Default `<group>:<message id>`. */
  key?: (message: Message, ctx: RouterContext) => string;
  /** How long a key stays processed, in ms. Default 7 days. */
  ttlMs?: number;
  /**
   * How long a claim lasts before another consumer may take over (crashed processor), in ms.
   * Default 60,000. While the handler runs, the claim is renewed every quarter of it (stores with
   * `renew`), so a handler may run longer than this; a process that stalls longer loses the key.
   */
  leaseMs?: number;
}

/**
 * Skips messages whose key was already processed (the message is acknowledged without running
 * the handler). A key is claimed before the handler runs, so concurrent duplicates never both
 * run; a duplicate arriving while the first is in flight waits for it. After the handler
 * succeeded, its queued publishes are sent and then the key is marked processed; a failure
 * releases the key. A claim with a lease is renewed while its handler runs; if a renewal finds it
 * lost (another consumer took the key over), `ctx.signal` aborts and the attempt fails without
 * marking the key or sending its publishes. With the transactional PostgreSQL store the handler's writes and the mark
 * commit in one transaction: exactly-once effect. See docs/middleware.md for each store's guarantee.
 *
 * Install it inside `retry()` and `deadLetter()` (after them in `use`), so each attempt has its
 * own claim (and transaction), and a dead-lettered message is not marked processed — its replay
 * from the DLQ would be skipped as a duplicate (the router warns about that order at start).
 *
 * @example
 * ```ts
 * router.use(retry(), deadLetter(), idempotency({ store: memoryIdempotencyStore() }));
 * ```
 */
export function idempotency(options: IdempotencyOptions): Middleware {
  const { store } = options;
  if (typeof store?.claim !== 'function') throw new TypeError('idempotency({ store }): store must be an IdempotencyStore');
  ConfigError.throwIfAny([
    ...positiveMsProblems('idempotency()', 'ttlMs', options.ttlMs),
    ...positiveMsProblems('idempotency()', 'leaseMs', options.leaseMs),
    ...(options.key !== undefined && typeof options.key !== 'function' ? ['idempotency(): key must be a function (msg, ctx) => string'] : []),
  ]);
  const custom = options.key;
  const ttlMs = options.ttlMs ?? 7 * 24 * 3600_000;
  const leaseMs = options.leaseMs ?? 60_000;

  const claimOptions = Object.freeze({ leaseMs, ttlMs });
  const renewals = new ClaimRenewals(leaseMs);
  // The default key is `<group>:<message id>`; a store that takes the two apart is spared the join.
  const claimScoped = custom ? undefined : store.claimScoped?.bind(store);
  const keyOf = custom ?? ((msg: Message, ctx: RouterContext): string => `${ctx.group}:${msg.id}`);

  const claimOf = (msg: Message, ctx: RouterContext, key: string | undefined): Promise<IdempotencyClaim> | IdempotencyClaim =>
    key === undefined ? claimScoped!(ctx.group, msg.id, claimOptions) : store.claim(key, claimOptions);

  const release = async (claim: Claimed, error: unknown, msg: Message, ctx: RouterContext, key: string | undefined): Promise<never> => {
    await claim.release().catch((e: unknown) => ctx.logger.warn(`idempotency: releasing "${key ?? keyOf(msg, ctx)}" failed`, { error: String(e) }));
    throw error;
  };

  /**
   * Runs the rest of the chain under `claim`, then sends what the handler queued and marks the key
   * processed; a failure releases the key. Not async: the usual path is next()'s promise and one
   * reaction, with no async function of its own.
   */
  const runClaimed = (claim: Claimed, msg: Message, ctx: RouterContext, next: () => Promise<void>, key: string | undefined): Promise<void> => {
    claim.attach?.(ctx);
    // Renewed while the handler runs, the claim stays its own; a short handler costs a list entry.
    const flight = claim.renew === undefined ? undefined : renewals.add(claim as Renewable, ctx, key, msg.id);
    const fail = (error: unknown): Promise<never> => release(claim, flight ? renewals.end(flight, error) : error, msg, ctx, key);
    const succeed = (): Promise<void> | void => {
      // Still renewed while the publishes went out; a claim lost meanwhile is not marked processed.
      const lost = flight && renewals.end(flight);
      return lost ? fail(lost) : complete(claim, msg, ctx, key);
    };
    // Publish before marking processed: a crash in between re-runs the message (and re-sends,
    // at-least-once) rather than losing what it had to publish.
    return next().then(() => {
      // An attempt whose timeout() fired lost its publishes and is being delivered again: marking
      // the key processed now would make that delivery skip them. Free the key instead.
      if (ctx.ended) return fail(attemptEndedError(ctx, 'marking the message key processed'));
      // Another consumer took the key over: it runs the message, this run must not finish too.
      if (flight?.lost) return fail(flight.lost);
      return ctx.pending > 0 ? ctx.flush().then(succeed, fail) : succeed();
    }, fail);
  };

  /**
   * Marks the key processed. If that fails the key is released, so a redelivery runs the handler
   * again at once rather than waiting out the lease and failing as "still being processed".
   */
  const complete = (claim: Claimed, msg: Message, ctx: RouterContext, key: string | undefined): Promise<void> | void => {
    let done: Promise<void> | void;
    try {
      done = claim.complete();
    } catch (error) {
      return completeFailed(claim, error, msg, ctx, key);
    }
    if (isThenable(done)) return Promise.resolve(done).then(undefined, (error: unknown) => completeFailed(claim, error, msg, ctx, key));
  };

  const completeFailed = (claim: Claimed, error: unknown, msg: Message, ctx: RouterContext, key: string | undefined): Promise<never> =>
    release(
      claim,
      new SwitchyardError(
        `idempotency: marking message key "${key ?? keyOf(msg, ctx)}" processed failed (${toError(error).message}); ` +
          'the key was released and the message will be delivered again, so its handler runs again',
        { cause: error },
      ),
      msg,
      ctx,
      key,
    );

  /** Skips a processed key, and waits for a busy one (another consumer holds it) to be processed or freed. */
  const settleKey = async (
    answer: Promise<IdempotencyClaim> | IdempotencyClaim,
    msg: Message,
    ctx: RouterContext,
    next: () => Promise<void>,
    key: string | undefined,
  ): Promise<void> => {
    let started = 0; // read only once a key is busy: the clock is not free
    for (let wait = 5; ; wait = Math.min(wait * 2, 250)) {
      const claim = isThenable(answer) ? await answer : answer;
      if (claim.status === 'claimed') return runClaimed(claim, msg, ctx, next, key);
      if (claim.status === 'processed') {
        ctx.count('skipped-duplicate');
        return;
      }
      started ||= Date.now();
      if (Date.now() - started > leaseMs) {
        throw new SwitchyardError(`message key "${key ?? keyOf(msg, ctx)}" is still being processed by another consumer; it will be delivered again`);
      }
      // The attempt's signal: one whose timeout() fired stops waiting rather than claim the key later.
      if (!(await delay(wait, ctx.signal))) {
        throw new ClosedError(`handler "${ctx.handler}" (waiting for message key "${key ?? keyOf(msg, ctx)}", held by another consumer)`, {
          detail: 'its attempt was aborted; the message will be delivered again',
        });
      }
      answer = claimOf(msg, ctx, key);
    }
  };

  return withRole(function idempotency(msg, ctx, next) {
    const key = claimScoped ? undefined : keyOf(msg, ctx);
    const answer = claimOf(msg, ctx, key);
    // A store that answers at once with a claim (the memory store, a new key) goes straight on.
    if (!isThenable(answer) && answer.status === 'claimed') return runClaimed(answer, msg, ctx, next, key);
    return settleKey(answer, msg, ctx, next, key);
  }, 'idempotency');
}

/**
 * Whether a store's answer is one to wait for. Any thenable, not only native promises: a store may
 * return another library's promises, as `await` always accepted; a memory store answers at once.
 */
function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as PromiseLike<T> | undefined)?.then === 'function';
}
