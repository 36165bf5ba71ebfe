import type { AsyncMessage, Channel, Connection } from 'rabbitmq-client';
import { isConfigError, TimeoutError, toError } from '../../core/errors.ts';
import type { Message } from '../../core/message.ts';
import type { ResolvedSubscribeOptions } from '../../core/subscribe-options.ts';
import type { Handler, Subscription } from '../../core/transport.ts';
import { deferred } from '../../internal/deferred.ts';
import { KeyedQueue, type KeyedEntry } from '../../internal/keyed-queue.ts';
import { drainWithin, waitAtMost } from '../../internal/with-timeout.ts';
import { toSwitchyardError } from './errors.ts';
import { fromDelivery, retryDelay, retryQueueName } from './mapping.ts';
import type { RabbitMQEvent } from './options.ts';
import { inequivalentQueue } from './queue-conflicts.ts';
import { isRawBody, keepRawBodies, restoreContentType } from './raw-body.ts';
import type { QueueDeclaration } from './retry-queues.ts';
import type { queueDeclaration } from './topology.ts';

/** What a subscription declares and consumes. */
export interface ConsumePlan {
  queue: string;
  /** Declared (idempotently) on every (re)start; undefined: the queue must exist (passive check). */
  declare: ReturnType<typeof queueDeclaration> | undefined;
  /** The option `declare` comes from (`groupQueue`, a `topology.queues` entry), named when the broker refuses it. */
  settingsFrom: string;
  /** Exchange declarations needed by `bindings`. */
  exchanges: Array<{ exchange: string; type: string; durable: boolean; autoDelete?: boolean; internal?: boolean; arguments?: Record<string, unknown> }>;
  bindings: Array<{ exchange: string; routingKey: string }>;
  /** TTL queues that dead-letter failed messages back to `queue` (`retry-queues.ts`). */
  retryQueues: QueueDeclaration[];
  /** Message topic when a delivery does not name one (native queues); else the routing key. */
  topic: string | undefined;
  prefetch: number;
}

/** What a subscription needs from its transport. */
export interface SubscriptionHost {
  readonly connection: Connection;
  /** For subscriptions that do not set their own. */
  readonly drainTimeoutMs: number;
  /** How long close() waits for the broker to answer its cancel and channel close. */
  readonly replyTimeoutMs: number;
  readonly redeliveryDelaysMs: readonly number[];
  readonly reconnectDelayMs: { min: number; max: number };
  event(event: RabbitMQEvent): void;
  /** Puts a failed message back with attempt + 1 into `queue`; resolves once the broker confirmed it. */
  redeliver(delivery: AsyncMessage, message: Message, queue: string): Promise<void>;
  /** Declares retry queues (on a channel of their own: a refused one closes its channel). */
  declareRetryQueues(declarations: readonly QueueDeclaration[]): Promise<void>;
  detach(subscription: RabbitMQSubscription): void;
}

interface Entry extends KeyedEntry {
  delivery: AsyncMessage;
  message: Message;
  channel: Channel;
}

const backoff = (min: number, max: number, failures: number): number => Math.min(max, min * 2 ** Math.min(failures, 16)) * (0.5 + Math.random() / 2);

/**
 * One consumer on one queue, on its own channel. Deliveries go through a KeyedQueue so that a
 * key never runs twice at once and `concurrency` bounds the handlers; `prefetch` bounds what the
 * broker hands over. A message is acknowledged only after its handler resolved; a failed one is
 * republished with attempt + 1 (through a retry queue when a delay applies) and only then
 * acknowledged. When the channel or connection is lost, consuming resumes on a new channel by
 * itself; the broker redelivers what was not acknowledged.
 */
export class RabbitMQSubscription implements Subscription {
  readonly topic: string;
  readonly options: ResolvedSubscribeOptions;
  readonly plan: ConsumePlan;
  /** Names of `plan.retryQueues`: their dead-lettering is ours, not the broker's (`dead-letters.ts`). */
  readonly #retryQueues: ReadonlySet<string>;
  readonly #handler: Handler;
  readonly #host: SubscriptionHost;
  readonly #waiting = new KeyedQueue<Entry>();
  readonly #abort = new AbortController();
  readonly #closed = deferred<Error | undefined>();
  readonly closed = this.#closed.promise;
  #seq = 0;
  #inflight = 0;
  /** Deliveries whose handler is running, for `unacknowledged`. */
  readonly #running = new Set<Entry>();
  #idle = deferred();
  #channel: Channel | undefined;
  #consumerTag: string | undefined;
  #paused = false;
  #stopping = false;
  /** close() stopped waiting for the handlers still running: their results are ignored. */
  #abandoned = false;
  #started = false;
  #failures = 0;
  #reportedDecodedBody = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;

  constructor(host: SubscriptionHost, topic: string, options: ResolvedSubscribeOptions, handler: Handler, plan: ConsumePlan) {
    this.#host = host;
    this.topic = topic;
    this.options = options;
    this.#handler = handler;
    this.plan = plan;
    this.#retryQueues = new Set(plan.retryQueues.map((d) => d.queue));
    this.#idle.resolve();
  }

  get group(): string {
    return this.options.group;
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Deliveries held by this subscription, not yet acknowledged (running or waiting). */
  get unacknowledged(): number {
    // Handlers still running from a lost channel hold nothing: the broker requeued their messages.
    let running = 0;
    for (const entry of this.#running) if (entry.channel === this.#channel && entry.channel.active) running++;
    return running + this.#waiting.size;
  }

  /** Declares and starts consuming; rejects (ConfigError, TransportError) if the first setup fails. */
  async start(): Promise<void> {
    await this.#setup();
    this.#started = true;
  }

  async #setup(): Promise<void> {
    const { plan } = this;
    const ch = await this.#host.connection.acquire({ emitErrorsFromChannel: true });
    // Once per channel: when a connection dies, rabbitmq-client reports every ack written to it.
    let reported = false;
    ch.on('error', (error: unknown) => {
      if (reported) return;
      reported = true;
      this.#host.event({ type: 'error', error: toError(error), context: `consumer of queue "${plan.queue}"` });
    });
    try {
      keepRawBodies(ch);
      for (const e of plan.exchanges) await ch.exchangeDeclare(e);
      if (plan.declare) {
        const declaration = plan.declare;
        await ch.queueDeclare(declaration).catch((error: unknown) => {
          throw inequivalentQueue(error, declaration.queue, plan.settingsFrom) ?? error;
        });
      } else await ch.queueDeclare({ queue: plan.queue, passive: true });
      for (const b of plan.bindings) await ch.queueBind({ queue: plan.queue, exchange: b.exchange, routingKey: b.routingKey });
      await this.#host.declareRetryQueues(plan.retryQueues);
      await ch.basicQos({ prefetchCount: plan.prefetch });
      if (this.#stopping) {
        await ch.close();
        return;
      }
      this.#channel = ch;
      ch.once('close', () => this.#lost(ch));
      // The server cancels a consumer whose queue was deleted: start over on a new channel.
      ch.on('basic.cancel', () => {
        if (this.#channel === ch && !this.#stopping) void ch.close().catch(() => undefined);
      });
      const { consumerTag } = await ch.basicConsume({ queue: plan.queue }, (delivery) => this.#deliver(delivery, ch));
      this.#consumerTag = consumerTag;
    } catch (error) {
      if (this.#channel === ch) this.#channel = undefined;
      void ch.close().catch(() => undefined);
      throw toSwitchyardError(error, `subscribing to queue "${plan.queue}"`);
    }
  }

  /** The channel closed (connection lost, broker closed it, or we did). */
  #lost(ch: Channel): void {
    if (this.#channel !== ch) return;
    this.#channel = undefined;
    this.#consumerTag = undefined;
    // Waiting deliveries cannot be acknowledged on another channel; the broker redelivers them.
    this.#waiting.drain();
    if (this.#stopping || !this.#started) return;
    this.#scheduleRecovery();
  }

  #scheduleRecovery(): void {
    if (this.#retryTimer || this.#stopping) return;
    const { min, max } = this.#host.reconnectDelayMs;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (this.#stopping) return;
      this.#setup().then(
        () => {
          if (this.#stopping) return;
          this.#failures = 0;
          this.#host.event({ type: 'consumer-recovered', queue: this.plan.queue });
          this.#pump();
        },
        (error: unknown) => {
          if (this.#stopping) return;
          if (isConfigError(error)) {
            this.#host.event({ type: 'error', error, context: `consumer of queue "${this.plan.queue}" stopped` });
            void this.#finish(error);
            return;
          }
          if (this.#failures++ === 0) this.#host.event({ type: 'error', error: toError(error), context: `recovering consumer of queue "${this.plan.queue}"` });
          this.#scheduleRecovery();
        },
      );
    }, backoff(min, max, this.#failures));
  }

  #deliver(delivery: AsyncMessage, ch: Channel): void {
    if (this.#stopping || this.#channel !== ch) {
      try {
        ch.basicNack({ deliveryTag: delivery.deliveryTag, requeue: true });
      } catch {
        // channel already gone: the broker requeues it anyway
      }
      return;
    }
    restoreContentType(delivery);
    if (!isRawBody(delivery)) this.#reportDecodedBody(delivery);
    const message = fromDelivery(delivery, this.plan.topic, this.#retryQueues);
    this.#waiting.push({ seq: ++this.#seq, key: message.key, delivery, message, channel: ch });
    this.#pump();
  }

  /** Once per subscription: the client decoded a body although keepRawBodies should prevent it. */
  #reportDecodedBody(delivery: AsyncMessage): void {
    if (this.#reportedDecodedBody) return;
    this.#reportedDecodedBody = true;
    const error = new Error(
      `rabbitmq-client decoded the body of a message with content type "${delivery.contentType ?? ''}" on queue "${this.plan.queue}" although ` +
        'Switchyard keeps bodies raw (raw-body.ts): its internals changed. Such payloads are re-encoded and may differ from what was published; ' +
        'install rabbitmq-client 5.0.x as package-lock.json pins it, or update raw-body.ts',
    );
    this.#host.event({ type: 'error', error, context: `consumer of queue "${this.plan.queue}"` });
  }

  #pump(): void {
    while (!this.#paused && !this.#stopping && this.#inflight < this.options.concurrency) {
      const entry = this.#waiting.take();
      if (!entry) return;
      this.#run(entry);
    }
  }

  #run(entry: Entry): void {
    if (this.#inflight++ === 0) this.#idle = deferred();
    this.#running.add(entry);
    const signal = this.#abort.signal;
    // A later tick, so a handler that throws synchronously cannot break the pump.
    void Promise.resolve()
      .then(() => this.#handler(entry.message, { signal }))
      .then(
        () => true,
        () => false,
      )
      .then((ok) => this.#settle(entry, ok))
      .catch((error: unknown) => this.#host.event({ type: 'error', error: toError(error), context: `settling message ${entry.message.id}` }))
      .finally(() => {
        this.#waiting.release(entry);
        this.#running.delete(entry);
        if (--this.#inflight === 0) this.#idle.resolve();
        this.#pump();
      });
  }

  async #settle(entry: Entry, ok: boolean): Promise<void> {
    const { channel: ch, delivery, message } = entry;
    // Channel gone: the broker delivers the message again (a duplicate if the handler succeeded).
    // Abandoned: its channel is closing, which puts the message back into the queue.
    if (!ch.active || this.#abandoned) return;
    if (ok) {
      ack(ch, delivery);
      return;
    }
    const delay = retryDelay(this.#host.redeliveryDelaysMs, message.attempt);
    const target = delay > 0 ? retryQueueName(this.plan.queue, delay) : this.plan.queue;
    try {
      await this.#host.redeliver(delivery, message, target);
    } catch (error) {
      this.#host.event({ type: 'error', error: toError(error), context: `redelivering message ${message.id} through "${target}"` });
      // Could not republish: hand it back as it is, after a pause (never a hot requeue loop).
      await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(delay, 100), 1_000)));
      if (ch.active) {
        try {
          ch.basicNack({ deliveryTag: delivery.deliveryTag, requeue: true });
        } catch {
          // the broker requeues it when the channel closes
        }
      }
      return;
    }
    ack(ch, delivery);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#pump();
  }

  close(): Promise<void> {
    return this.#finish(undefined);
  }

  #finish(error: Error | undefined): Promise<void> {
    this.#closing ??= this.#end(error);
    return this.#closing;
  }

  async #end(error: Error | undefined): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#host.detach(this);
    const ch = this.#channel;
    const tag = this.#consumerTag;
    // A broker that stopped reading this connection (a resource alarm blocks it once it publishes)
    // answers neither the cancel nor the channel close until the alarm clears: wait a bounded
    // time. Unanswered, both still take effect once it reads again or the connection goes, and
    // deliveries arriving meanwhile are handed back (#deliver).
    if (ch?.active && tag) await waitAtMost(ch.basicCancel(tag), this.#host.replyTimeoutMs);
    const drainTimeoutMs = this.options.drainTimeoutMs ?? this.#host.drainTimeoutMs;
    if (!(await drainWithin(this.#idle.promise, drainTimeoutMs, this.#abort))) {
      // Left unacknowledged: closing the channel puts their messages back into the queue.
      this.#abandoned = true;
      const error = new TimeoutError(`close() waiting for ${this.#inflight} running handler(s)`, drainTimeoutMs);
      this.#host.event({ type: 'error', error, context: `consumer of queue "${this.plan.queue}" gave up on them; their messages go back to the queue` });
    }
    // Deliveries that never started go back to the queue, in order, when the channel closes.
    this.#waiting.drain();
    this.#channel = undefined;
    if (ch?.active) await waitAtMost(ch.close(), this.#host.replyTimeoutMs);
    this.#closed.resolve(error);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function ack(ch: Channel, delivery: AsyncMessage): void {
  try {
    ch.basicAck({ deliveryTag: delivery.deliveryTag });
  } catch {
    // channel closed meanwhile: the broker delivers the message again
  }
}
