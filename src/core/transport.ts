import type { Capabilities } from './capabilities.ts';
import type { Message, OutgoingMessage } from './message.ts';

/** What a handler gets besides the message. */
export interface HandlerContext {
  /**
   * Aborted when the subscription is closing and its drain time (`drainTimeoutMs`) is up; handlers
   * should stop then, as `close()` no longer waits for them.
   */
  signal: AbortSignal;
}

/**
 * Processes one message. Resolving acknowledges it; throwing (or rejecting) makes the transport
 * deliver it again later with `attempt + 1`. Nothing is acknowledged before the promise settles.
 */
export type Handler = (message: Message, context: HandlerContext) => Promise<void>;

/** How a subscription consumes. */
export interface SubscribeOptions {
  /** Consumers in one group share the work; each group gets every message. */
  group: string;
  /** Where a group that has never consumed starts. Default `'latest'`. Replay needs `capabilities.replay`. */
  from?: 'earliest' | 'latest';
  /**
   * Most handlers in flight at once for this subscription (backpressure). Default 1: strict order.
   * Above 1, messages with different keys run in parallel; messages with the same key never do.
   */
  concurrency?: number;
  /**
   * How long `close()` waits for this subscription's in-flight handlers to settle. Then it aborts
   * their `signal` and gives up on them: their messages are not acknowledged or committed and are
   * delivered again, as after a crash (a handler that ignores its signal may still be running
   * then; whatever it returns later is ignored). Default: the transport's own `drainTimeoutMs`,
   * 30,000 ms unless set (on Kafka `consumer.drainTimeoutMs`).
   */
  drainTimeoutMs?: number;
}

/** A running consumer. Also `await using`-disposable. */
export interface Subscription extends AsyncDisposable {
  readonly topic: string;
  readonly group: string;
  /**
   * Resolves when the subscription has stopped: `undefined` after `close()`, or the error that
   * ended it. It never rejects.
   */
  readonly closed: Promise<Error | undefined>;
  /** Stops taking new messages; in-flight handlers carry on. Used by circuit breakers. */
  pause(): void;
  /** Takes messages again after `pause()`. */
  resume(): void;
  /** True between `pause()` and `resume()`. */
  readonly paused: boolean;
  /**
   * Stops intake, waits for in-flight handlers to settle (at most `drainTimeoutMs`, then it aborts
   * their signal and gives up on them), acknowledges/commits what succeeded and leaves the rest to
   * be delivered again (to this group's other or future members). Idempotent.
   */
  close(): Promise<void>;
}

/**
 * The one contract every broker adapter implements. Application code (handlers, router, sagas,
 * projections) only ever sees this interface.
 *
 * Methods may be called concurrently. `publish` and `subscribe` connect on first use if
 * `connect()` was not awaited first.
 */
export interface Transport {
  /** A short name for logs and metrics: `memory`, `embedded`, `kafka`, `rabbitmq`, `nats`. */
  readonly name: string;
  readonly capabilities: Capabilities;
  /**
   * True while the transport has a live connection to its broker; false while it is disconnected
   * or reconnecting, before it connected and after `close()`; undefined when the transport cannot
   * tell. A cheap read of state the transport already tracks (no round trip to the broker). Health
   * checks use it: `connect()` resolves at once once connected, even after the connection dropped.
   */
  readonly connected?: boolean;
  /** Opens connections and declares topology. Rejects with TransportError or ConfigError. */
  connect(): Promise<void>;
  /**
   * Publishes one message or a batch. Resolves when the messages are as safe as the transport's
   * settings make them (on disk, confirmed by the broker); rejects with ConfigError on invalid
   * input (nothing is sent), TransportError when the broker did not accept them, ClosedError
   * after `close()`. Messages of one call keep their order.
   */
  publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void>;
  /**
   * Starts consuming `topic` (a name or, where `capabilities.wildcards`, a pattern). Resolves once
   * the group exists, so messages published afterwards reach it. Rejects with ConfigError for an
   * invalid topic, group or option.
   */
  subscribe(topic: string, options: SubscribeOptions, handler: Handler): Promise<Subscription>;
  /**
   * Closes every subscription (draining in-flight handlers, for at most each one's
   * `drainTimeoutMs`, and committing what succeeded), waits for pending publishes, then
   * disconnects. Idempotent. Afterwards `publish` rejects with ClosedError.
   */
  close(): Promise<void>;
}
