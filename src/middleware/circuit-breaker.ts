import { ClosedError, ConfigError, isClosedError, isPermanentError, toError } from '../core/errors.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';
import { withRole } from '../router/middleware-order.ts';
import type { IntakeControl, Logger, Middleware, MiddlewareRoute, RouterContext } from '../router/types.ts';
import { positiveMsProblems, rangeProblems, wholeProblems } from './option-problems.ts';

/** Where a circuit breaker is. */
export type CircuitState = 'closed' | 'open' | 'half-open';

/** A state change of a circuit breaker; switch on `type`. */
export type CircuitEvent =
  | { type: 'open'; at: number; failures: number; error: Error }
  | { type: 'half-open'; at: number }
  | { type: 'closed'; at: number };

/** Circuit breaker settings. Every field has a default. */
export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. Default 5. Ignored when `failureRate` is set. */
  failureThreshold?: number;
  /** Open on a failure rate instead: at least `minimumCalls` calls in the last `windowMs`, of which `rate` (0–1) failed. */
  failureRate?: { rate: number; windowMs: number; minimumCalls?: number };
  /** Time the circuit stays open before probing, in ms. Default 30,000. */
  resetTimeoutMs?: number;
  /** Successful probes needed in half-open state to close. Default 1. */
  probes?: number;
  /** Which errors count as the downstream failing. Default: all but permanent errors (bad messages). */
  isFailure?: (error: unknown) => boolean;
  /** Called on every state change. One that throws is logged on the router's logger; the circuit goes on. */
  onStateChange?: (event: CircuitEvent) => void;
}

/** A route using a circuit breaker, as {@link CircuitBreaker.attach} is told about it. */
export type BreakerRoute = MiddlewareRoute;

/** The middleware, plus its state and an event subscription. */
export interface CircuitBreaker extends Middleware {
  readonly state: CircuitState;
  /** Calls `listener` on every state change until the returned function is called (one that throws is logged). */
  on(listener: (event: CircuitEvent) => void): () => void;
  /**
   * Makes `route` one the circuit pauses and resumes, before its first message: a route sharing
   * the breaker that has not had a message yet pauses with the others when the circuit opens (at
   * once, when it is open already). Meant for the router, as it starts a route; the breaker also
   * does it itself on a route's first message. The route is let go once its router stops
   * (`intake.stopped`): with no route left, the reset timer stops too. Calling it again for the
   * same route does nothing.
   */
  attach(route: BreakerRoute): void;
}

/**
 * Protects a failing downstream: after enough failures the circuit opens and the handler's
 * subscription PAUSES — no message is consumed, none fails, none is dead-lettered. Messages
 * already in flight (the one that tripped it included) wait inside the breaker. After
 * `resetTimeoutMs` the circuit is half-open: a waiting message (or the next one consumed) runs
 * as a probe; `probes` successes close the circuit and consumption resumes, a failure opens it
 * again. Install it inside `retry()`/`deadLetter()` (after them in `use`) and outside `timeout()`
 * (before it): inside `timeout()` a downstream that times out never opens the circuit, and a held
 * message times out and is dead-lettered (the router warns about that order at start).
 *
 * A held message gives up (a ClosedError: not acknowledged, not dead-lettered, delivered again
 * later) when its attempt's signal aborts — its `timeout()` fired — or as soon as the router stops
 * taking messages, so `stop()` does not wait the drain time for a circuit that stays open.
 * Attempts cut short that way count neither as failures nor as successes.
 *
 * One breaker instance is one circuit: give it in a route's `use` for one handler, or share the
 * instance between handlers that call the same downstream (all of them pause together; one that
 * has had no message yet pauses on its first while the circuit is open). Once its router stopped,
 * the breaker pauses and resumes none of its handlers and, with no running router left, changes
 * state no more; an instance reused by a new router goes on where it was.
 *
 * @example
 * ```ts
 * const payments = circuitBreaker({ failureThreshold: 5, resetTimeoutMs: 10_000 });
 * payments.on((e) => logger.warn(`payments circuit ${e.type}`));
 * router.handle('charge', { ...route, use: [payments] }, charge);
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const where = 'circuitBreaker()';
  const r = options.failureRate;
  ConfigError.throwIfAny([
    ...wholeProblems(where, 'failureThreshold', options.failureThreshold, 1),
    ...(r === undefined
      ? []
      : typeof r !== 'object' || r === null
        ? [`${where}: failureRate must be { rate, windowMs, minimumCalls? }`]
        : [
            ...(typeof r.rate === 'number' && r.rate > 0 && r.rate <= 1 ? [] : [`${where}: failureRate.rate must be a fraction above 0, at most 1, got ${String(r.rate)}`]),
            ...positiveMsProblems(where, 'failureRate.windowMs', r.windowMs ?? Number.NaN),
            ...wholeProblems(where, 'failureRate.minimumCalls', r.minimumCalls, 1),
          ]),
    ...rangeProblems(where, 'resetTimeoutMs', options.resetTimeoutMs, 0, MAX_TIMER_MS, ' of ms'),
    // No probe at all would leave the circuit half-open, and the intake paused, for good.
    ...wholeProblems(where, 'probes', options.probes, 1),
  ]);
  const threshold = options.failureThreshold ?? 5;
  const rate = options.failureRate;
  const resetTimeoutMs = options.resetTimeoutMs ?? 30_000;
  const probes = options.probes ?? 1;
  const isFailure = options.isFailure ?? ((error: unknown) => !isPermanentError(error));
  const listeners = new Set<(event: CircuitEvent) => void>();
  if (options.onStateChange) listeners.add(options.onStateChange);

  let state: CircuitState = 'closed';
  let consecutive = 0;
  const window: Array<{ at: number; failed: boolean }> = [];
  /**
   * Which half-open period probes belong to. A probe settles against its own period only: one
   * still running when another probe re-opened the circuit must not give back a probe slot of
   * the next half-open period (that admitted `probes + 1`).
   */
  let epoch = 0;
  let probing = 0;
  let probeSuccesses = 0;
  let timer: NodeJS.Timeout | undefined;
  /** When an open circuit half-opens: the reset timer is armed only while some route uses the breaker. */
  let resetAt = 0;
  /** The intakes of the routes using the breaker whose routers have not stopped. */
  const intakes = new Set<IntakeControl>();
  let waiters: Array<() => void> = [];

  /** Where a listener that throws is reported: the logger of the last route through the breaker. */
  let logger: Logger | undefined;
  /**
   * Tells every listener; one that throws is logged, not let through. Thrown from the reset
   * timer it crashed the process; thrown elsewhere it failed the message in hand and left the
   * state change half done (intake paused, held messages not woken, for good).
   */
  const emit = (event: CircuitEvent): void => {
    for (const l of listeners) {
      try {
        l(event);
      } catch (error) {
        const message = `circuitBreaker(): a listener of its "${event.type}" event threw (the circuit went on regardless): ${toError(error).message}`;
        if (logger) logger.error(message, { error: toError(error).message });
        else console.error(`switchyard: ${message}`);
      }
    }
  };
  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  };
  const open = (error: Error, failures: number): void => {
    state = 'open';
    epoch++;
    probing = 0;
    probeSuccesses = 0;
    for (const intake of intakes) intake.pause();
    resetAt = Date.now() + resetTimeoutMs;
    armReset();
    emit({ type: 'open', at: Date.now(), failures, error });
  };
  /**
   * (Re)starts the reset timer for `resetAt`, unless no route uses the breaker any more: a timer
   * left running after the routers stopped half-opened a circuit nobody used and resumed closed
   * subscriptions. A route attached later arms it again.
   */
  const armReset = (): void => {
    clearTimeout(timer);
    timer = undefined;
    if (intakes.size === 0) return;
    timer = setTimeout(halfOpen, Math.max(0, resetAt - Date.now()));
    timer.unref();
  };
  /**
   * A half-open probe slot is free: a held message takes it, or, with none held, the paused intake
   * lets the next one in. (Waking no one would leave intake paused and the circuit half-open for
   * good: after a probe that succeeded short of `probes`, or one cut short.)
   */
  const letProbeIn = (): void => {
    if (waiters.length > 0) wake();
    else for (const intake of intakes) intake.resume();
  };
  const halfOpen = (): void => {
    timer = undefined;
    state = 'half-open';
    epoch++;
    probing = 0;
    probeSuccesses = 0;
    emit({ type: 'half-open', at: Date.now() });
    letProbeIn();
  };
  const close = (): void => {
    state = 'closed';
    consecutive = 0;
    window.length = 0;
    emit({ type: 'closed', at: Date.now() });
    for (const intake of intakes) intake.resume();
    wake();
  };
  const record = (failed: boolean): number => {
    if (!rate) return consecutive;
    const now = Date.now();
    window.push({ at: now, failed });
    while (window.length > 0 && window[0]!.at < now - rate.windowMs) window.shift();
    return window.filter((c) => c.failed).length;
  };
  const tripped = (): boolean => {
    if (!rate) return consecutive >= threshold;
    if (window.length < (rate.minimumCalls ?? 10)) return false;
    return window.filter((c) => c.failed).length / window.length >= rate.rate;
  };
  /** No probe slot free in a half-open period: a route attached now waits paused, as the others do. */
  const probeSlotsTaken = (): boolean => probing + probeSuccesses >= probes;
  const detach = (intake: IntakeControl): void => {
    intakes.delete(intake);
    if (intakes.size === 0) armReset(); // stops the timer: no route left to probe or resume
  };
  const attach = (route: BreakerRoute): void => {
    logger = route.logger;
    const intake = route.intake;
    if (intakes.has(intake) || intake.stopped.aborted) return;
    intakes.add(intake);
    intake.stopped.addEventListener('abort', () => detach(intake), { once: true });
    // A route that joins an open circuit takes no message either: its messages would only be held.
    if (state === 'open') {
      intake.pause();
      if (timer === undefined) armReset(); // reused after its routers stopped: the wait goes on
    } else if (state === 'half-open' && probeSlotsTaken()) {
      intake.pause();
    }
  };

  /** A probe of period `of` is over without a verdict: its slot goes to a waiting message. */
  const probeAbandoned = (of: number): void => {
    if (of !== epoch) return;
    probing--;
    letProbeIn();
  };

  /**
   * Waits until this call may run; returns the half-open period it probes for, or -1 when it is
   * not a probe. Gives up with a ClosedError when the attempt's signal aborts (its timeout() fired,
   * or the drain time is up) or the router stops taking messages: a held message is then failed —
   * not acknowledged, not dead-lettered — and delivered again later.
   */
  const admit = async (ctx: RouterContext): Promise<number> => {
    let signals: { attempt: AbortSignal; stopped: AbortSignal } | undefined;
    for (;;) {
      if (state === 'closed') return -1;
      signals ??= { attempt: ctx.signal, stopped: ctx.intake.stopped };
      if (signals.attempt.aborted || signals.stopped.aborted) throw released(ctx, signals.attempt.aborted);
      if (state === 'half-open' && !probeSlotsTaken()) {
        probing++;
        return epoch;
      }
      await new Promise<void>((resolve) => {
        const go = (): void => {
          signals!.attempt.removeEventListener('abort', onAbort);
          signals!.stopped.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = (): void => {
          // Leave the queue: a stale waiter would be all a later half-open wakes, and nobody would probe.
          const i = waiters.indexOf(go);
          if (i !== -1) waiters.splice(i, 1);
          go();
        };
        waiters.push(go);
        signals!.attempt.addEventListener('abort', onAbort, { once: true });
        signals!.stopped.addEventListener('abort', onAbort, { once: true });
      });
    }
  };

  async function circuitBreaker(_msg: Parameters<Middleware>[0], ctx: RouterContext, next: Parameters<Middleware>[2]): Promise<void> {
    logger = ctx.logger;
    if (!intakes.has(ctx.intake)) attach({ handler: ctx.handler, intake: ctx.intake, logger: ctx.logger });
    for (;;) {
      const probe = await admit(ctx);
      try {
        await next();
      } catch (thrown) {
        // An attempt that was cut short (timed out, stopping) says nothing about the downstream.
        if (!isFailure(thrown) || isClosedError(thrown) || ctx.ended) {
          if (probe !== -1) probeAbandoned(probe);
          throw thrown;
        }
        const error = toError(thrown);
        if (probe !== -1) {
          if (probe === epoch) {
            probing--;
            open(error, 1);
          }
        } else if (state === 'closed') {
          consecutive++;
          const failures = record(true);
          if (tripped()) open(error, failures);
          else throw thrown; // an ordinary failure: retry / redelivery as usual
        }
        // The circuit is open: hold this message until it may run again.
        ctx.discardPending();
        ctx.count('held-by-breaker');
        continue;
      }
      if (probe !== -1) {
        if (probe === epoch) {
          probing--;
          probeSuccesses++;
          if (probeSuccesses >= probes) close();
          else letProbeIn();
        }
      } else if (state === 'closed') {
        consecutive = 0;
        record(false);
      }
      return;
    }
  }

  return Object.defineProperties(withRole(circuitBreaker, 'circuitBreaker'), {
    state: { get: () => state, enumerable: true },
    attach: { value: attach },
    on: {
      value: (listener: (event: CircuitEvent) => void) => {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    },
  }) as CircuitBreaker;
}

function released(ctx: RouterContext, attemptAborted: boolean): ClosedError {
  return new ClosedError(`handler "${ctx.handler}" (held by its open circuit)`, {
    detail: attemptAborted
      ? 'its attempt was aborted; the message is left to be delivered again'
      : 'the router is stopping; the message is left to be delivered again',
  });
}
