import type { Codec } from '../core/codec.ts';
import { isClosedError } from '../core/errors.ts';
import { derivedMessageId } from '../core/id.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import type { ContextKey, IntakeControl, Logger, RouterContext } from './types.ts';

const NOT_DECODED = Symbol('not decoded');

/**
 * What every delivery of one route shares: built once per route, so a delivery's context holds
 * only what is its own (the hot path allocates one small object per message).
 */
export interface RouteInfo {
  readonly handler: string;
  readonly route: string;
  readonly group: string;
  readonly from: Transport;
  readonly to: Transport;
  readonly codec: Codec<unknown> | undefined;
  readonly intake: IntakeControl;
  readonly logger: Logger;
  count(counter: string): void;
  published(count: number): void;
  /** `to` refused a publish with a ClosedError: it was closed, and stays so. */
  toClosed(error: Error): void;
}

/**
 * The router's RouterContext for one delivery. The stop signal and `signal` are created on first
 * use (most handlers never look at them); the stop signal aborts exactly when `stopSource` does,
 * with its reason, and `signal` also when a middleware aborts the attempt (`abortAttempt()`).
 */
export class HandlerContext implements RouterContext {
  attempt: number;
  final = true;
  retryable: ((error: unknown) => boolean) | undefined = undefined;
  retryDeadline = Number.POSITIVE_INFINITY;
  readonly #info: RouteInfo;
  readonly #message: Message;
  readonly #stopSource: AbortSignal;
  #stopSignal: AbortSignal | undefined;
  /** What `signal` follows: set through `ctx.signal =`, else the stop source. */
  #signalBase: AbortSignal | undefined;
  /** Aborts `signal` for the current attempt; made on first read of `signal` or first abort. */
  #attemptAbort: AbortController | undefined;
  #signal: AbortSignal | undefined;
  #outgoingHeaders: Record<string, string> | undefined;
  #queue: Array<{ topic: string; message: OutgoingMessage }> | undefined;
  #payload: unknown = NOT_DECODED;
  #locals: Map<ContextKey<unknown>, unknown> | undefined;

  /** `stopSource`: aborted when this delivery must stop (transport closing or router drain time up). */
  constructor(info: RouteInfo, message: Message, stopSource: AbortSignal) {
    this.#info = info;
    this.#message = message;
    this.#stopSource = stopSource;
    this.attempt = message.attempt;
  }

  /** The delivery's own context never ends early; a timed-out attempt's view (AttemptContext) does. */
  get ended(): boolean {
    return false;
  }

  get handler(): string {
    return this.#info.handler;
  }

  get route(): string {
    return this.#info.route;
  }

  get group(): string {
    return this.#info.group;
  }

  get from(): Transport {
    return this.#info.from;
  }

  get to(): Transport {
    return this.#info.to;
  }

  get intake(): IntakeControl {
    return this.#info.intake;
  }

  get logger(): Logger {
    return this.#info.logger;
  }

  get headers(): Readonly<Record<string, string>> {
    return this.#message.headers;
  }

  get outgoingHeaders(): Record<string, string> {
    return (this.#outgoingHeaders ??= {});
  }

  get stopSignal(): AbortSignal {
    // A signal of its own per delivery, so listeners a handler leaves on it go away with it.
    return (this.#stopSignal ??= AbortSignal.any([this.#stopSource]));
  }

  /**
   * The attempt's signal: aborts with the stop source (or the signal set in its place) and when a
   * middleware aborts the attempt. Every read in one attempt shares the abort, so a handler that
   * took the signal early sees an abort that comes later.
   */
  get signal(): AbortSignal {
    return (this.#signal ??= AbortSignal.any([this.#signalBase ?? this.#stopSource, (this.#attemptAbort ??= new AbortController()).signal]));
  }

  set signal(value: AbortSignal) {
    this.#signalBase = value;
    this.#signal = undefined;
  }

  /**
   * Aborts `signal` with `reason` for the rest of this attempt, including every signal read from
   * it earlier: how a middleware tells the handler to stop (`idempotency()` when its claim was
   * lost). Costs nothing per message until used. Call `clearAttemptAbort()` once the attempt is
   * over, so an attempt run next on this context (`retry()`) gets a signal that is not aborted.
   */
  abortAttempt(reason: Error): void {
    (this.#attemptAbort ??= new AbortController()).abort(reason);
  }

  /** After `abortAttempt()`, once the attempt is over: `signal` is a fresh one from now on. */
  clearAttemptAbort(): void {
    if (!this.#attemptAbort?.signal.aborted) return;
    this.#attemptAbort = undefined;
    this.#signal = undefined;
  }

  publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): void {
    const queue = (this.#queue ??= []);
    if (Array.isArray(messages)) for (const message of messages as readonly OutgoingMessage[]) queue.push({ topic, message: this.#withId(message) });
    else queue.push({ topic, message: this.#withId(messages as OutgoingMessage) });
  }

  /**
   * Messages published without an id get one derived from the message being handled, the handler
   * and their position: a handler run again after a crash publishes the same ids, so downstream
   * deduplication recognises the repeats.
   */
  #withId(message: OutgoingMessage): OutgoingMessage {
    const index = this.#publishedCount++;
    if (message.id !== undefined) return message;
    return { ...message, id: derivedMessageId(this.#message.id, this.#info.handler, index) };
  }

  #publishedCount = 0;

  get pending(): number {
    return this.#queue?.length ?? 0;
  }

  discardPending(): void {
    this.#queue = undefined;
    this.#publishedCount = 0; // a retry of the handler publishes under the same ids again
  }

  async flush(): Promise<void> {
    for (let queue = this.#queue; queue && queue.length > 0; queue = this.#queue) {
      // One publish call per run of same-topic messages keeps order within and across topics.
      const topic = queue[0]!.topic;
      let n = 1;
      while (n < queue.length && queue[n]!.topic === topic) n++;
      const outgoing = this.#outgoingHeaders;
      const batch = queue.slice(0, n).map(({ message }) => ({
        ...message,
        headers: { ...outgoing, ...message.headers },
      }));
      try {
        await this.to.publish(topic, batch);
      } catch (error) {
        // A closed transport never takes a message again: the router stops this route's intake,
        // which would otherwise run the handler again and again for a message it cannot finish.
        if (isClosedError(error)) this.#info.toClosed(error);
        throw error;
      }
      this.#queue?.splice(0, n);
      this.#info.published(n);
    }
  }

  payload<T = unknown>(): T {
    if (this.#payload === NOT_DECODED) {
      const codec = this.#info.codec;
      const message = this.#message;
      this.#payload = codec ? codec.decode(message) : message.payload;
    }
    return this.#payload as T;
  }

  setPayload(value: unknown): void {
    this.#payload = value;
  }

  set<T>(key: ContextKey<T>, value: T): void {
    (this.#locals ??= new Map()).set(key, value);
  }

  get<T>(key: ContextKey<T>): T | undefined {
    return this.#locals?.get(key) as T | undefined;
  }

  onCount: ((counter: string) => void) | undefined = undefined;

  count(counter: string): void {
    this.#info.count(counter);
    this.onCount?.(counter);
  }
}
