import { ClosedError } from '../core/errors.ts';
import type { OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import type { ContextKey, IntakeControl, Logger, RouterContext } from './types.ts';

/**
 * One attempt's view of a delivery's context, with a signal of its own. `timeout()` runs the rest
 * of the chain with one (`next(attempt)`) and calls `end()` when the deadline passes: the code of
 * that attempt may still be running (a handler that ignores its signal, a middleware still
 * waiting), but it shares the delivery's context with the attempt or redelivery that follows, so
 * from then on it must not act. An ended view says so in `ended` (the chain does not go on for it)
 * and refuses `publish()` and `flush()`; its signal stays aborted. Everything else is the
 * delivery's context (`parent`), read and written through — except that an ended view writes
 * nothing back (`attempt`, `final`, `retryable`, `retryDeadline`, the publish queue): those now
 * belong to the attempt that follows.
 *
 * @example
 * ```ts
 * // A deadline per message, from a header, in the way timeout() does it.
 * const headerDeadline: Middleware = async function headerDeadline(msg, ctx, next) {
 *   const ms = Number(msg.headers['x-deadline-ms'] ?? 10_000);
 *   const controller = new AbortController();
 *   const attempt = new AttemptContext(ctx, AbortSignal.any([ctx.signal, controller.signal]));
 *   const timer = setTimeout(() => {
 *     const error = new Error(`x-deadline-ms (${ms} ms) passed`);
 *     attempt.end(error);
 *     controller.abort(error);
 *   }, ms);
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
  signal: AbortSignal;
  #ended: { reason: Error; attempt: number } | undefined;

  constructor(parent: RouterContext, signal: AbortSignal) {
    this.parent = parent;
    this.signal = signal;
  }

  /** Ends the attempt for good: its late calls of `publish()`, `flush()` and `next()` are refused. */
  end(reason: Error): void {
    this.#ended ??= { reason, attempt: this.parent.attempt };
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

/** The error for running the rest of the chain in an attempt that ended. */
export function attemptEndedError(ctx: RouterContext, what: string): ClosedError {
  return ctx instanceof AttemptContext ? ctx.endedError(what) : new ClosedError(`attempt of handler "${ctx.handler}"`, { detail: `${what} refused, the attempt ended` });
}
