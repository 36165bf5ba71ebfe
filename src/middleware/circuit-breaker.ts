import { ClosedError, isPermanentError, toError } from '../core/errors.ts';
import type { IntakeControl, Middleware } from '../router/types.ts';

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
  /** Called on every state change. */
  onStateChange?: (event: CircuitEvent) => void;
}

/** The middleware, plus its state and an event subscription. */
export interface CircuitBreaker extends Middleware {
  readonly state: CircuitState;
  /** Calls `listener` on every state change until the returned function is called. */
  on(listener: (event: CircuitEvent) => void): () => void;
}

/**
 * Protects a failing downstream: after enough failures the circuit opens and the handler's
 * subscription PAUSES — no message is consumed, none fails, none is dead-lettered. Messages
 * already in flight (the one that tripped it included) wait inside the breaker. After
 * `resetTimeoutMs` the circuit is half-open: a waiting message (or the next one consumed) runs
 * as a probe; `probes` successes close the circuit and consumption resumes, a failure opens it
 * again. Install it inside `retry()`/`deadLetter()` (after them in `use`).
 *
 * One breaker instance is one circuit: give it in a route's `use` for one handler, or share the
 * instance between handlers that call the same downstream (all of them pause together).
 *
 * @example
 * ```ts
 * const payments = circuitBreaker({ failureThreshold: 5, resetTimeoutMs: 10_000 });
 * payments.on((e) => logger.warn(`payments circuit ${e.type}`));
 * router.handle('charge', { ...route, use: [payments] }, charge);
 * ```
 */
export function circuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
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
  let probing = 0;
  let probeSuccesses = 0;
  let timer: NodeJS.Timeout | undefined;
  const intakes = new Set<IntakeControl>();
  let waiters: Array<() => void> = [];

  const emit = (event: CircuitEvent): void => {
    for (const l of listeners) l(event);
  };
  const wake = (): void => {
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve();
  };
  const open = (error: Error, failures: number): void => {
    state = 'open';
    probing = 0;
    for (const intake of intakes) intake.pause();
    clearTimeout(timer);
    timer = setTimeout(halfOpen, resetTimeoutMs);
    timer.unref();
    emit({ type: 'open', at: Date.now(), failures, error });
  };
  const halfOpen = (): void => {
    state = 'half-open';
    probeSuccesses = 0;
    emit({ type: 'half-open', at: Date.now() });
    // A held message probes; with none held, let one in.
    if (waiters.length > 0) wake();
    else for (const intake of intakes) intake.resume();
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

  /** Waits until this call may run; returns whether it is a probe. */
  const admit = async (signal: AbortSignal, handler: string): Promise<boolean> => {
    for (;;) {
      if (state === 'closed') return false;
      if (state === 'half-open' && probing + probeSuccesses < probes) {
        probing++;
        return true;
      }
      if (signal.aborted) throw new ClosedError(`handler "${handler}" (waiting for its circuit to close)`);
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        waiters.push(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  };

  async function circuitBreaker(_msg: Parameters<Middleware>[0], ctx: Parameters<Middleware>[1], next: Parameters<Middleware>[2]): Promise<void> {
    intakes.add(ctx.intake);
    for (;;) {
      const probe = await admit(ctx.stopSignal, ctx.handler);
      try {
        await next();
      } catch (thrown) {
        if (!isFailure(thrown)) {
          if (probe) {
            probing--;
            wake();
          }
          throw thrown;
        }
        const error = toError(thrown);
        if (probe) {
          probing--;
          if (state === 'half-open') open(error, 1);
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
      if (probe) {
        probing--;
        probeSuccesses++;
        if (state === 'half-open' && probeSuccesses >= probes) close();
        else wake();
      } else if (state === 'closed') {
        consecutive = 0;
        record(false);
      }
      return;
    }
  }

  return Object.defineProperties(circuitBreaker, {
    state: { get: () => state, enumerable: true },
    on: {
      value: (listener: (event: CircuitEvent) => void) => {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    },
  }) as CircuitBreaker;
}
