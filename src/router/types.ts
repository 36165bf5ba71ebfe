import type { Codec } from '../core/codec.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';

/** A typed slot in a context's local storage; make one with `contextKey()`. */
export interface ContextKey<T> {
  readonly name: string;
  /** Phantom: carries `T`, never set. */
  readonly type?: T;
}

/**
 * A typed key for `ctx.set()` / `ctx.get()`, how middleware hands values (a database client, a
 * correlation id) to the handler and to inner middleware.
 *
 * @example
 * ```ts
 * const tenantKey = contextKey<string>('tenant');
 * router.use(async function tenant(msg, ctx, next) { ctx.set(tenantKey, msg.headers['x-tenant'] ?? 'default'); await next(); });
 * ```
 */
export function contextKey<T>(name: string): ContextKey<T> {
  return Object.freeze({ name });
}

/** Where a log line goes. Each method takes a message and structured fields. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Pause and resume the subscription a message came from (used by circuit breakers). */
export interface IntakeControl {
  /** Stops taking new messages for this handler; in-flight ones carry on. */
  pause(): void;
  /** Takes messages again. */
  resume(): void;
  readonly paused: boolean;
  /**
   * Aborted once the router stops taking messages (`stop()` began). In-flight messages still get
   * the drain time to finish; a middleware holding one until intake resumes (`circuitBreaker()`)
   * releases it then, since intake will not resume.
   */
  readonly stopped: AbortSignal;
}

/**
 * What a handler and its middleware get besides the message. One context per delivery; the
 * retry middleware runs the inner chain again with the same context (`attempt` grows).
 */
export interface RouterContext {
  /** The handler's name (as given to `router.handle`). */
  readonly handler: string;
  /** The subscription's topic or pattern; the message's own topic is `msg.topic`. */
  readonly route: string;
  readonly group: string;
  /** The transport the message came from. */
  readonly from: Transport;
  /** Where `publish()` sends: the route's `to`, or `from`. */
  readonly to: Transport;
  /**
   * Aborted when this attempt should stop: the router's drain time ran out, a `timeout()`
   * middleware's deadline passed, or `idempotency()` lost its claim on the message. Pass it on to fetch, database calls and so on. Middleware that
   * make a message wait (for a slot, a token, a circuit) give up when it aborts.
   */
  signal: AbortSignal;
  /** Aborted only when the router (or subscription) is stopping and its drain time is up. */
  readonly stopSignal: AbortSignal;
  /**
   * Attempt number: the delivery's `msg.attempt` for the first try in this process, plus one per
   * in-process retry (the `retry()` middleware).
   */
  attempt: number;
  /**
   * True when no further in-process attempt follows if this one fails (set by `retry()`; true
   * when there is no retry middleware). `deadLetter()` dead-letters only final attempts. Before
   * the attempt it counts attempts only; `retry()` sets it once it declines a failure (an error
   * its `retryable` rejects, or `maxElapsedMs` spent), for middleware outside it.
   */
  final: boolean;
  /**
   * Set by `retry()`: the errors it retries in-process (its `retryable`). Undefined without
   * `retry()`. With `final` and `retryDeadline` it tells a `deadLetter()` inside `retry()`,
   * which sees a failure first, whether another attempt follows.
   */
  retryable: ((error: unknown) => boolean) | undefined;
  /**
   * Set by `retry({ maxElapsedMs })`: the time (`Date.now()`) after which a failure of this
   * attempt is not retried in-process, because the wait before the next one would pass the
   * limit. `Infinity` otherwise.
   */
  retryDeadline: number;
  /**
   * True once this attempt has ended while its code may still be running: its `timeout()` fired
   * (the view `timeout()` hands inward reports it). Then `publish()` and `flush()` throw a
   * ClosedError, and the rest of the chain does not run for it, so a timed-out attempt never
   * acts for the attempt or delivery that follows. False for the delivery's own context.
   */
  readonly ended: boolean;
  /** The incoming message's headers (same object as `msg.headers`). */
  readonly headers: Readonly<Record<string, string>>;
  /** Headers added to every message `publish()` sends (the message's own headers win). */
  readonly outgoingHeaders: Record<string, string>;
  /**
   * Queues messages to publish once the handler succeeded, before the incoming message is
   * acknowledged. Nothing is sent if the handler fails. Messages of one topic keep their order.
   */
  publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): void;
  /** Messages queued by `publish()` and not yet sent. */
  readonly pending: number;
  /** Drops the queued messages (a failed attempt's output; used by retry and dead-letter). */
  discardPending(): void;
  /** Sends the queued messages now (idempotency stores do this before marking processed). */
  flush(): Promise<void>;
  /** The decoded payload (decoded once, through the route's codec). Throws DecodeError. */
  payload<T = unknown>(): T;
  /** Replaces the decoded payload the handler will see (validation output, upcasting). */
  setPayload(value: unknown): void;
  set<T>(key: ContextKey<T>, value: T): void;
  get<T>(key: ContextKey<T>): T | undefined;
  /** Adds one to a named counter shown by the inspector (`dead-lettered`, `skipped`, …). */
  count(counter: string): void;
  /**
   * Also told every `count()` of this delivery, when set: how `metrics()` sees retries and dead
   * letters without wrapping `count` for each message. Save the previous value and restore it.
   */
  onCount: ((counter: string) => void) | undefined;
  /** Pauses and resumes this handler's intake. */
  readonly intake: IntakeControl;
  readonly logger: Logger;
}

/**
 * Wraps the rest of the chain: do something, `await next()`, do something after. Throwing fails
 * the attempt; returning without calling `next()` skips the handler (the message is acknowledged).
 * `next(attempt)` runs the rest of the chain with an `AttemptContext` (a per-attempt view of
 * `ctx`, as `timeout()` makes); any other argument is ignored.
 *
 * A middleware that only watches deliveries may also carry an `observer` (see `DeliveryObserver`),
 * and one that often has nothing to do a `skip` test.
 */
export type Middleware = ((message: Message, ctx: RouterContext, next: (attempt?: RouterContext) => Promise<void>) => Promise<void>) & {
  readonly observer?: DeliveryObserver;
  /**
   * True when this middleware would do nothing for `message` but call `next()` (`tracing()` with
   * no SDK and no trace context to pass on): the chain then skips it without a layer's promise.
   */
  readonly skip?: (message: Message) => boolean;
  /**
   * Called once for each route whose chain holds this middleware, as the router starts the route
   * (before it subscribes): how a middleware that pauses routes (`circuitBreaker()`) knows them
   * before their first message. A route paused here takes no message until resumed.
   */
  readonly attach?: (route: MiddlewareRoute) => void;
};

/** A route as `Middleware.attach` is told about it. */
export interface MiddlewareRoute {
  /** The handler's name (as given to `router.handle`). */
  readonly handler: string;
  /** Pauses and resumes the route's intake; `stopped` aborts when its router stops. */
  readonly intake: IntakeControl;
  readonly logger: Logger;
}

/**
 * The watching half of a middleware that counts or times deliveries and changes nothing. While
 * such middleware lead a route's chain (nothing but observers before them), the router calls
 * their observers around each delivery instead of running them as layers: no promise or closure
 * of their own per message. Elsewhere in the chain the middleware function runs as usual, and it
 * must do the same as its observer.
 */
export interface DeliveryObserver {
  /**
   * A delivery starts, before any middleware. Returns a number handed back to `ended` — the time
   * it read, say (reading the clock is not free: an observer that times only some deliveries
   * reads it only for those).
   */
  started(message: Message, ctx: RouterContext): number;
  /** The delivery ended: `succeeded` when the chain resolved and the publishes it queued were sent. */
  ended(message: Message, ctx: RouterContext, mark: number, succeeded: boolean): void;
}

/** What a handler receives: the message with its payload decoded by the route's codec. */
export type RoutedMessage<T> = Omit<Message, 'payload'> & {
  readonly payload: T;
  /** The payload's bytes as received. */
  readonly bytes: Uint8Array;
};

/** A route's handler. Resolving acknowledges the message (after queued publishes were sent). */
export type RouteHandler<T> = (message: RoutedMessage<T>, ctx: RouterContext) => Promise<void> | void;

/** Where a handler consumes and how. */
export interface RouteOptions<T> {
  /** The transport to consume from. */
  from: Transport;
  /** Topic or pattern (`orders.*`, `orders.>`). */
  topic: string;
  /** Consumer group. */
  group: string;
  /** Decodes payloads for the handler; default: raw bytes. */
  codec?: Codec<T>;
  /** Where `ctx.publish()` sends; default `from`. */
  to?: Transport;
  /** Where a new group starts. Default `'latest'`. */
  start?: 'earliest' | 'latest';
  /** Handlers in flight at once for this route (passed to subscribe). Default 1. */
  concurrency?: number;
  /** Middleware for this handler only, inside the router's. */
  use?: readonly Middleware[];
}
