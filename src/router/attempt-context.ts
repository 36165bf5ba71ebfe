import { ClosedError } from '../core/errors.ts';
import type { OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import { HandlerContext } from './handler-context.ts';
import type { ContextKey, IntakeControl, Logger, RouterContext } from './types.ts';

/**
 * One attempt's view of a delivery's context, with a signal of its own. `timeout()` runs the rest
 * of the chain with one (`next(attempt)`) and calls `end()` when the deadline passes: the code of
 * that attempt may still be running (a handler that ignores its signal, a middleware still
 * waiting), but it shares the delivery's context with the attempt or redelivery that follows, so
 * from then on it must not act. An ended view says so in `ended` (the chain does not go on for it)
 * and refuses `publish()` and `flush()`; its signal aborts with the reason and stays aborted.
 * Everything else is the delivery's context (`parent`), read and written through — except that an
 * ended view writes nothing back (`attempt`, `final`, `retryable`, `retryDeadline`, the publish
 * queue): those now belong to the attempt that follows.
 *
 * @example
 * ```ts
 * // A deadline per message, from a header, in the way timeout() does it.
 * const headerDeadline: Middleware = async function headerDeadline(msg, ctx, next) {
 *   const ms = Number(msg.headers['x-deadline-ms'] ?? 10_000);
 *   const attempt = new AttemptContext(ctx); // its signal follows ctx.signal, and aborts when it ends
 *   const timer = setTimeout(() => attempt.end(new Error(`x-deadline-ms (${ms} ms) passed`)), ms);
 *   try {
 *     await next(attempt);
 *   } finally {
 *     clearTimeout(timer);
 *   }
 * };
 * ```
 */
export class AttemptContext implements RouterContext {
  readonly parent: RouterContext;
  /** What `signal` follows: the signal given (or set through `signal =`); else the parent's, read when first needed. */
  #signalBase: AbortSignal | undefined;
  /** Aborts `signal` for this attempt (`abortAttempt()`, `end()`); made on first read of `signal` or first abort. */
  #attemptAbort: AbortController | undefined;
  #signal: AbortSignal | undefined;
  #ended: { reason: Error; attempt: number } | undefined;

  /** `signal`: what the attempt's signal follows besides its own aborts; default the parent's signal. */
  constructor(parent: RouterContext, signal?: AbortSignal) {
    this.parent = parent;
    this.#signalBase = signal;
  }

  /**
   * The attempt's signal: aborts with the signal it follows, and when the attempt is aborted
   * (`abortAttempt()`) or ended. Made on first read, and shared by every read in the attempt, so
   * a handler that took it early sees an abort that comes later.
   */
  get signal(): AbortSignal {
    return (this.#signal ??= AbortSignal.any([this.#signalBase ?? this.parent.signal, (this.#attemptAbort ??= new AbortController()).signal]));
  }

  set signal(value: AbortSignal) {
    this.#signalBase = value;
    this.#signal = undefined;
  }

  /**
   * Aborts `signal` with `reason` for the rest of this attempt, including every signal read from
   * it earlier: how a middleware tells the attempt's code to stop (`idempotency()` when its claim
   * was lost). Call `clearAttemptAbort()` once the attempt is over, so an attempt run next on this
   * view (`retry()` inside it) gets a signal that is not aborted.
   */
  abortAttempt(reason: Error): void {
    (this.#attemptAbort ??= new AbortController()).abort(reason);
  }

  /** After `abortAttempt()`, once the attempt is over: `signal` is a fresh one from now on (an ended view's stays aborted). */
  clearAttemptAbort(): void {
    if (this.#ended !== undefined || !this.#attemptAbort?.signal.aborted) return;
    this.#attemptAbort = undefined;
    this.#signal = undefined;
  }

  /**
   * Ends the attempt for good: its late calls of `publish()`, `flush()` and `next()` are refused,
   * and `signal` aborts with `reason` (unless aborted already: the first reason stays).
   */
  end(reason: Error): void {
    if (this.#ended) return;
    // Ended before the abort: code woken by the abort must already see `ended`.
    this.#ended = { reason, attempt: this.parent.attempt };
    this.abortAttempt(reason);
  }

  get ended(): boolean {
    return this.#ended !== undefined || this.parent.ended;
  }

  /** The error for a call made after the attempt ended: says which attempt, why, and what to do. */
  endedError(what: string): ClosedError {
    const ended = this.#ended;
    if (!ended) return this.parent instanceof AttemptContext ? this.parent.endedError(what) : new ClosedError(`attempt of handler "${this.handler}"`, { detail: `${what} refused` });
    return new ClosedError(`attempt ${ended.attempt} of handler "${this.handler}"`, {
      detail: `${what} refused, the attempt ended (${ended.reason.message}); stop work when ctx.signal aborts`,
      cause: ended.reason,
    });
  }

  get handler(): string {
    return this.parent.handler;
  }

  get route(): string {
    return this.parent.route;
  }

  get group(): string {
    return this.parent.group;
  }

  get from(): Transport {
    return this.parent.from;
  }

  get to(): Transport {
    return this.parent.to;
  }

  get stopSignal(): AbortSignal {
    return this.parent.stopSignal;
  }

  get attempt(): number {
    return this.parent.attempt;
  }

  set attempt(value: number) {
    if (!this.ended) this.parent.attempt = value;
  }

  get final(): boolean {
    return this.parent.final;
  }

  set final(value: boolean) {
    if (!this.ended) this.parent.final = value;
  }

  get retryable(): ((error: unknown) => boolean) | undefined {
    return this.parent.retryable;
  }

  set retryable(value: ((error: unknown) => boolean) | undefined) {
    if (!this.ended) this.parent.retryable = value;
  }

  get retryDeadline(): number {
    return this.parent.retryDeadline;
  }

  set retryDeadline(value: number) {
    if (!this.ended) this.parent.retryDeadline = value;
  }

  get headers(): Readonly<Record<string, string>> {
    return this.parent.headers;
  }

  get outgoingHeaders(): Record<string, string> {
    return this.parent.outgoingHeaders;
  }

  publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): void {
    // Queued now, it would be sent with the next attempt's success: refuse it to the late caller.
    if (this.ended) throw this.endedError('ctx.publish()');
    this.parent.publish(topic, messages);
  }

  get pending(): number {
    return this.ended ? 0 : this.parent.pending;
  }

  discardPending(): void {
    // The queue now belongs to the attempt that follows: a late caller must not empty it.
    if (!this.ended) this.parent.discardPending();
  }

  flush(): Promise<void> {
    if (this.ended) return Promise.reject(this.endedError('ctx.flush()'));
    return this.parent.flush();
  }

  payload<T = unknown>(): T {
    return this.parent.payload<T>();
  }

  setPayload(value: unknown): void {
    this.parent.setPayload(value);
  }

  set<T>(key: ContextKey<T>, value: T): void {
    this.parent.set(key, value);
  }

  get<T>(key: ContextKey<T>): T | undefined {
    return this.parent.get(key);
  }

  count(counter: string): void {
    this.parent.count(counter);
  }

  get onCount(): ((counter: string) => void) | undefined {
    return this.parent.onCount;
  }

  set onCount(value: ((counter: string) => void) | undefined) {
    this.parent.onCount = value;
  }

  get intake(): IntakeControl {
    return this.parent.intake;
  }

  get logger(): Logger {
    return this.parent.logger;
  }
}

/**
 * Aborts `ctx.signal` — and every signal the attempt's code read from it before — with `reason`,
 * for the rest of the attempt. Returns what to call once the attempt is over, so an attempt that
 * runs next on the same context (`retry()`) gets a signal that is not aborted.
 *
 * For the router's contexts; a context of another make only has its `signal` replaced by an
 * aborted one (what was read from it before does not see the abort).
 */
export function abortAttempt(ctx: RouterContext, reason: Error): () => void {
  if (ctx instanceof AttemptContext || ctx instanceof HandlerContext) {
    ctx.abortAttempt(reason);
    return () => ctx.clearAttemptAbort();
  }
  const before = ctx.signal;
  ctx.signal = AbortSignal.any([before, AbortSignal.abort(reason)]);
  return () => {
    ctx.signal = before;
  };
}

/** The error for running the rest of the chain in an attempt that ended. */
export function attemptEndedError(ctx: RouterContext, what: string): ClosedError {
  return ctx instanceof AttemptContext ? ctx.endedError(what) : new ClosedError(`attempt of handler "${ctx.handler}"`, { detail: `${what} refused, the attempt ended` });
}
