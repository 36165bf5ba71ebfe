import { ConfigError } from '../core/errors.ts';
import { MAX_TIMER_MS } from '../core/timer-limit.ts';

/** How often a failing action or compensation is tried, and how long to wait in between. */
export interface RetryPolicy {
  /** Tries in all, the first included. Default 3 for actions, 5 for compensations. */
  attempts?: number;
  /** Wait before the second try, in ms. Default 100. */
  initialDelayMs?: number;
  /** Each wait is the previous one times this. Default 2. */
  multiplier?: number;
  /** Longest single wait, in ms. Default 5,000. */
  maxDelayMs?: number;
}

/** What an action or a compensation is told besides its input. */
export interface StepContext {
  /** The saga instance's id. */
  readonly sagaId: string;
  /** The saga definition's name. */
  readonly saga: string;
  /** The step's name. */
  readonly step: string;
  /**
   * The same on every try and after every restart: `<sagaId>:<step>` for the action and
   * `<sagaId>:<step>:compensation` for the compensation. Pass it to the service you call (or key
   * your write on it) so a re-run after a crash or a retry has no second effect.
   */
  readonly idempotencyKey: string;
  /** 1 on the first try in this process; grows on each retry. */
  readonly attempt: number;
  /** Aborted when the step's time is up or the orchestrator is closing. */
  readonly signal: AbortSignal;
}

/**
 * One step of an orchestrated saga. `action` gets the previous step's result (the saga's input
 * for the first step) and returns this step's result, which must be JSON-serialisable: it is
 * persisted and handed to the next step and to `compensate`.
 */
export interface SagaStep<In = unknown, Out = unknown> {
  /** Unique within the saga; part of the idempotency key, so keep it stable across releases. */
  readonly name: string;
  readonly action: (input: In, ctx: StepContext) => Promise<Out>;
  /** Undoes the action, given its result. Steps without one (notifications) are skipped on rollback. */
  readonly compensate?: (output: Out, ctx: StepContext & { readonly input: In }) => Promise<void>;
  /**
   * Time the step may take, all tries and waits included, in ms. When it passes the step fails
   * with a TimeoutError (its signal aborts) and the saga compensates. Default 30,000.
   */
  readonly timeoutMs?: number;
  /** Retries of the action. Permanent errors (`PermanentError`) are never retried. */
  readonly retry?: RetryPolicy;
  /** Retries of the compensation, with backoff; when they run out the saga is `compensation_failed`. */
  readonly compensationRetry?: RetryPolicy;
  /** Time one compensation try may take, in ms. Default: `timeoutMs`. */
  readonly compensationTimeoutMs?: number;
}

/** A named list of steps; build one with `defineSaga`. */
export interface SagaDefinition<Input = unknown, Output = unknown> {
  readonly name: string;
  readonly steps: readonly SagaStep[];
  /** Phantom: the input type, never set. */
  readonly input?: Input;
  /** Phantom: the last step's output type, never set. */
  readonly output?: Output;
}

/** Builds a saga definition step by step, each step's input typed by the previous step's output. */
export interface SagaBuilder<Input, Current> {
  /** Adds a step that receives `Current` (the previous result) and returns `Next`. */
  step<Next>(step: SagaStep<Current, Next>): SagaBuilder<Input, Next>;
  /** Checks the definition (names unique, numbers sensible) and freezes it. Throws ConfigError. */
  build(): SagaDefinition<Input, Current>;
}

/**
 * Starts a saga definition. Steps run in order; each receives the previous step's result.
 *
 * @example
 * ```ts
 * const fulfillment = defineSaga<Order>('order-fulfillment')
 *   .step({ name: 'reserve-inventory', action: (order, ctx) => inventory.reserve(order, ctx.idempotencyKey),
 *           compensate: (r) => inventory.release(r.reservationId), timeoutMs: 5_000 })
 *   .step({ name: 'process-payment', action: (r, ctx) => payments.charge(r, ctx.idempotencyKey),
 *           compensate: (p) => payments.refund(p.paymentId) })
 *   .build();
 * ```
 */
export function defineSaga<Input>(name: string): SagaBuilder<Input, Input> {
  const steps: SagaStep[] = [];
  const builder: SagaBuilder<Input, unknown> = {
    step(step) {
      steps.push(step as SagaStep);
      return builder as SagaBuilder<Input, never>;
    },
    build() {
      return validateSaga({ name, steps: [...steps] }) as SagaDefinition<Input, never>;
    },
  };
  return builder as SagaBuilder<Input, Input>;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Checks a definition, reporting every problem in one ConfigError, and freezes it. `defineSaga`
 * and the orchestrator call it; call it yourself for definitions written as plain objects.
 *
 * @example
 * ```ts
 * const saga = validateSaga({ name: 'refund', steps: [{ name: 'refund', action: async (p) => refund(p) }] });
 * ```
 */
export function validateSaga<I, O>(definition: SagaDefinition<I, O>): SagaDefinition<I, O> {
  const problems: string[] = [];
  const where = `saga "${String(definition.name)}"`;
  if (typeof definition.name !== 'string' || !NAME.test(definition.name)) {
    problems.push(`saga name must be letters, digits, ".", "_" or "-", got ${JSON.stringify(definition.name)}`);
  }
  if (!Array.isArray(definition.steps) || definition.steps.length === 0) problems.push(`${where}: needs at least one step`);
  const seen = new Set<string>();
  for (const [i, step] of (definition.steps ?? []).entries()) {
    const at = `${where}, step ${i} (${JSON.stringify(step?.name)})`;
    if (typeof step?.name !== 'string' || !NAME.test(step.name)) problems.push(`${at}: name must be letters, digits, ".", "_" or "-"`);
    else if (seen.has(step.name)) problems.push(`${at}: name is used twice; step names must be unique (they are part of idempotency keys)`);
    else seen.add(step.name);
    if (typeof step?.action !== 'function') problems.push(`${at}: action must be a function (input, ctx) => Promise<output>`);
    if (step?.compensate !== undefined && typeof step.compensate !== 'function') problems.push(`${at}: compensate must be a function or absent`);
    for (const key of ['timeoutMs', 'compensationTimeoutMs'] as const) {
      const v = step?.[key];
      // Up to what one timer can wait: asked for longer (Infinity included), setTimeout fires at once.
      if (v !== undefined && !(typeof v === 'number' && v > 0 && v <= MAX_TIMER_MS)) {
        problems.push(`${at}: ${key} must be a positive number of ms up to ${MAX_TIMER_MS} (~24.8 days), got ${JSON.stringify(v)}`);
      }
    }
    for (const key of ['retry', 'compensationRetry'] as const) {
      const policy = step?.[key];
      if (policy === undefined) continue;
      if (policy.attempts !== undefined && !(Number.isInteger(policy.attempts) && policy.attempts >= 1)) {
        problems.push(`${at}: ${key}.attempts must be a whole number ≥ 1, got ${JSON.stringify(policy.attempts)}`);
      }
      for (const field of ['initialDelayMs', 'maxDelayMs', 'multiplier'] as const) {
        const v = policy[field];
        if (v !== undefined && !(typeof v === 'number' && v >= 0 && (field === 'multiplier' ? Number.isFinite(v) : v <= MAX_TIMER_MS))) {
          problems.push(`${at}: ${key}.${field} must be a number ≥ 0${field === 'multiplier' ? '' : ` up to ${MAX_TIMER_MS} ms`}, got ${JSON.stringify(v)}`);
        }
      }
    }
  }
  ConfigError.throwIfAny(problems);
  return Object.freeze({ name: definition.name, steps: Object.freeze([...definition.steps]) });
}

/**
 * The idempotency key of a step's action: the same on every try and after restarts.
 *
 * @example
 * ```ts
 * actionKey('saga-order-1', 'process-payment'); // 'saga-order-1:process-payment'
 * ```
 */
export function actionKey(sagaId: string, step: string): string {
  return `${sagaId}:${step}`;
}

/**
 * The idempotency key of a step's compensation.
 *
 * @example
 * ```ts
 * compensationKey('saga-order-1', 'process-payment'); // 'saga-order-1:process-payment:compensation'
 * ```
 */
export function compensationKey(sagaId: string, step: string): string {
  return `${sagaId}:${step}:compensation`;
}

/** The wait before try `n + 1` (n ≥ 1) under `policy`, with ±20 % jitter. */
export function backoffMs(policy: RetryPolicy | undefined, n: number): number {
  const initial = policy?.initialDelayMs ?? 100;
  const base = Math.min(policy?.maxDelayMs ?? 5_000, initial * (policy?.multiplier ?? 2) ** (n - 1));
  // The jitter must not push a wait past what a timer keeps (it would fire at once).
  return Math.min(MAX_TIMER_MS, Math.max(0, Math.round(base * (0.8 + Math.random() * 0.4))));
}
