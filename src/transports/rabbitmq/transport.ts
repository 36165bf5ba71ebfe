import { AMQPChannelError, AMQPConnectionError, Connection, type AsyncMessage, type Publisher, type ReturnedMessage } from 'rabbitmq-client';
import type { Capabilities } from '../../core/capabilities.ts';
import { ClosedError, ConfigError, isConfigError, TimeoutError, toError, TransportError } from '../../core/errors.ts';
import type { Message, OutgoingMessage } from '../../core/message.ts';
import { normalizeOutgoing } from '../../core/message.ts';
import { resolveSubscribeOptions, type ResolvedSubscribeOptions } from '../../core/subscribe-options.ts';
import { groupProblems, isPattern, patternProblems } from '../../core/topic.ts';
import type { Handler, SubscribeOptions, Subscription, Transport } from '../../core/transport.ts';
import { checkMessageLimits } from '../../internal/message-limits.ts';
import { nodeTlsOptions, skipsVerify, tlsFailure, warnSkipVerify } from '../../internal/transport-tls.ts';
import { waitAtMost, withTimeout } from '../../internal/with-timeout.ts';
import { amqpCode, connectError, toSwitchyardError } from './errors.ts';
import { FRAME_MAX, negotiatedFrameMax, publishProblems } from './header-frame.ts';
import { asBuffer, bindingKey, bodyBytes, redeliveryEnvelope, retryQueueName, toEnvelope } from './mapping.ts';
import type { RabbitMQNative } from './native.ts';
import { resolveOptions, type RabbitMQEvent, type RabbitMQOptions, type ResolvedRabbitMQOptions } from './options.ts';
import { RetryPublisher } from './retry-publisher.ts';
import { declareRetryQueues, expires, retryQueueDeclaration, type QueueDeclaration } from './retry-queues.ts';
import { nextTick, Returns } from './returns.ts';
import { RabbitMQSubscription, type ConsumePlan, type SubscriptionHost } from './subscription.ts';
import { declareTopology, exchangeDeclaration, queueDeclaration, topologyQueueSettings, type QueueSettings } from './topology.ts';

/** Codes of connection errors that retrying will not fix: fail `connect()` at once. */
const FATAL_CONNECT = new Set(['ACCESS_REFUSED', 'NOT_ALLOWED']);

/** An error of one channel, not of the connection (AMQPConnectionError extends AMQPChannelError). */
const channelOnly = (error: unknown): boolean => error instanceof AMQPChannelError && !(error instanceof AMQPConnectionError);

/**
 * The RabbitMQ transport, over rabbitmq-client (AMQP 0-9-1).
 *
 * Mapping: every topic is a routing key on one durable topic exchange (`switchyard.topics`);
 * each group is a durable queue (`<topic>.<group>`) bound to it, so a pattern subscription is
 * just a binding (`*` → `*`, `>` → `*.#`). Publishes are persistent and, with `confirm` (the
 * default), resolve once the broker confirmed them. A failed message is republished with
 * `attempt + 1` through a TTL retry queue that dead-letters it back to the group's queue, then
 * acknowledged. The connection, topology, publishers and consumers recover by themselves after a
 * dropped connection or a broker restart; unconfirmed publishes are sent again.
 */
export class RabbitMQTransport implements Transport {
  readonly name = 'rabbitmq';
  readonly capabilities: Capabilities;
  readonly options: ResolvedRabbitMQOptions;
  #connection: Connection | undefined;
  #publisher: Publisher | undefined;
  #redeliverer: Publisher | undefined;
  #connecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  #blocked: { reason: string; since: Date } | undefined;
  #ready = false;
  /** The AMQP connection is open: set on `connection`, cleared by the `error` rabbitmq-client emits when it drops. */
  #live = false;
  /** Largest content header frame the connection takes; lowered if the broker negotiated less. */
  #frameMax = FRAME_MAX;
  readonly #subscriptions = new Set<RabbitMQSubscription>();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #returns = new Returns();
  readonly #redeliveryReturns = new Returns();
  readonly #declaredQueues = new Set<string>();
  readonly #declaredExchanges = new Set<string>();
  /** The declaration asked for each retry queue subscriptions declared: it says whether the queue expires. */
  readonly #retryDeclarations = new Map<string, QueueDeclaration>();
  /** Retry queues found without `x-expires` that were reported already. */
  readonly #legacyReported = new Set<string>();
  #retryPublisher: RetryPublisher | undefined;
  readonly #host: SubscriptionHost;

  constructor(options: RabbitMQOptions = {}) {
    this.options = resolveOptions(options);
    if (skipsVerify(this.options.tls)) warnSkipVerify('rabbitmq', this.options.url);
    const connection = (): Connection => {
      if (!this.#connection) throw new TransportError('rabbitmq: not connected');
      return this.#connection;
    };
    this.#host = {
      get connection() {
        return connection();
      },
      drainTimeoutMs: this.options.drainTimeoutMs,
      replyTimeoutMs: this.options.publishTimeoutMs,
      redeliveryDelaysMs: this.options.redeliveryDelaysMs,
      reconnectDelayMs: this.options.reconnectDelayMs,
      event: (event) => this.#event(event),
      redeliver: (delivery, message, queue) => this.#redeliver(delivery, message, queue),
      declareRetryQueues: (declarations) => this.#declareRetryQueues(declarations),
      detach: (sub) => void this.#subscriptions.delete(sub),
    };
    this.capabilities = Object.freeze({
      durable: true,
      redelivery: true,
      persistentGroups: true,
      replay: false,
      partitions: false,
      delayedRedelivery: true,
      wildcards: true,
      requestReply: false,
      maxPayloadBytes: this.options.maxPayloadBytes,
    });
  }

  /** The underlying client, for what the contract does not cover. Connect first. */
  get native(): RabbitMQNative {
    if (!this.#connection || !this.#publisher) throw new TransportError('rabbitmq: not connected; await transport.connect() first', { retryable: false });
    return { connection: this.#connection, publisher: this.#publisher };
  }

  /** Queues and exchanges this transport declared (topology, group and retry queues), e.g. to clean up after tests. */
  declared(): { queues: string[]; exchanges: string[] } {
    return { queues: [...this.#declaredQueues], exchanges: [...this.#declaredExchanges] };
  }

  /** The queue a group of `topic` reads. */
  queueFor(topic: string, group: string): string {
    const route = isPattern(topic) ? undefined : this.options.routes[topic];
    return route?.queues?.[group] ?? this.options.queueName(topic, group);
  }

  /** Deliveries of `queue` this transport holds unacknowledged (running or waiting for a handler). */
  unacknowledged(queue: string): number {
    let n = 0;
    for (const sub of this.#subscriptions) if (sub.plan.queue === queue) n += sub.unacknowledged;
    return n;
  }

  #event(event: RabbitMQEvent): void {
    try {
      this.options.onEvent(event);
    } catch {
      // a listener's bug must not break the transport
    }
  }

  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('rabbitmq transport'));
    this.#connecting ??= this.#open().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const o = this.options;
    const connection = new Connection({
      url: o.url,
      // Node verifies chain and host name unless dangerouslySkipVerify turned rejectUnauthorized off.
      ...(o.tls === undefined || o.tls === false ? {} : { tls: o.tls === true ? {} : nodeTlsOptions(o.tls) }),
      noDelay: true, // without it, Nagle holds small publishes back for tens of milliseconds
      heartbeat: o.heartbeatSeconds,
      connectionTimeout: o.connectionTimeoutMs,
      retryLow: o.reconnectDelayMs.min,
      retryHigh: o.reconnectDelayMs.max,
      frameMax: FRAME_MAX,
      connectionName: o.connectionName,
    });
    let fatal: ((error: unknown) => void) | undefined;
    const failedFast = new Promise<never>((_, reject) => {
      fatal = reject;
    });
    failedFast.catch(() => undefined);
    connection.on('error', (error: unknown) => {
      const code = amqpCode(error);
      // Wrong credentials, a refused vhost or a certificate that fails verification will not
      // fix themselves: fail connect() now instead of retrying until connectTimeoutMs.
      if (!this.#ready && ((code !== undefined && FATAL_CONNECT.has(code)) || tlsFailure(error))) fatal?.(error);
      // rabbitmq-client emits `error` here when the socket closed unexpectedly (it is reconnecting
      // then, and `ready` is false), and for a channel error nobody handled (the connection stays open).
      if (!connection.ready && !channelOnly(error)) this.#live = false;
      if (this.#ready) this.#event({ type: 'disconnected', error: toError(error) });
      else this.#event({ type: 'error', error: toError(error), context: 'connecting' });
    });
    connection.on('connection', () => {
      this.#blocked = undefined; // a block is per connection: a new one starts unblocked
      this.#frameMax = negotiatedFrameMax(connection);
      this.#live = true;
      const again = this.#ready;
      this.#event({ type: 'connected' });
      if (again) void this.#redeclare(connection);
    });
    connection.on('connection.blocked', (reason: string) => {
      this.#blocked = { reason, since: new Date() };
      this.#event({ type: 'blocked', reason });
    });
    connection.on('connection.unblocked', () => {
      this.#blocked = undefined;
      this.#event({ type: 'unblocked' });
    });
    try {
      await Promise.race([connection.onConnect(o.connectTimeoutMs, true), failedFast]);
      await this.#declareAll(connection);
    } catch (error) {
      connection.unsafeDestroy();
      throw connectError(error, o.url);
    }
    const exchanges = [this.#sharedExchange(), ...(o.topology.exchanges ?? []).map(exchangeDeclaration)];
    const publisher = connection.createPublisher({ confirm: o.confirm, maxAttempts: o.publishAttempts, exchanges });
    publisher.on('basic.return', (msg: ReturnedMessage) => this.#returns.add(msg));
    const redeliverer = connection.createPublisher({ confirm: true, maxAttempts: o.publishAttempts });
    redeliverer.on('basic.return', (msg: ReturnedMessage) => this.#redeliveryReturns.add(msg));
    this.#connection = connection;
    this.#publisher = publisher;
    this.#redeliverer = redeliverer;
    this.#retryPublisher = new RetryPublisher(
      () => connection,
      (error) => this.#event({ type: 'error', error, context: 'the channel that redelivers through expiring retry queues' }),
    );
    this.#ready = true;
  }

  #sharedExchange() {
    return exchangeDeclaration({ name: this.options.exchange, type: 'topic' });
  }

  /** Declares the shared exchange and the native topology on a short-lived channel. */
  async #declareAll(connection: Connection): Promise<void> {
    const ch = await connection.acquire();
    try {
      await ch.exchangeDeclare(this.#sharedExchange());
      await declareTopology(ch, this.options.topology);
    } catch (error) {
      throw toSwitchyardError(error, 'declaring the topology');
    } finally {
      if (ch.active) await ch.close().catch(() => undefined);
    }
    this.#declaredExchanges.add(this.options.exchange);
    for (const e of this.options.topology.exchanges ?? []) this.#declaredExchanges.add(e.name);
    for (const q of this.options.topology.queues ?? []) this.#declaredQueues.add(q.name);
  }

  async #redeclare(connection: Connection): Promise<void> {
    try {
      await this.#declareAll(connection);
      this.#event({ type: 'topology-redeclared' });
    } catch (error) {
      this.#event({ type: 'error', error: toError(error), context: 'declaring the topology again after reconnecting' });
    }
  }

  async publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) throw new ClosedError('rabbitmq transport');
    const batch = normalizeOutgoing(topic, messages);
    // Every message of the batch is checked before any is sent: a publish is all or nothing.
    const problems = publishProblems(topic, batch, this.#frameMax);
    try {
      checkMessageLimits(topic, batch, {
        transport: 'rabbitmq',
        maxPayloadBytes: this.options.maxPayloadBytes,
        maxHeaderBytes: this.options.maxHeaderBytes,
        payloadHint: "together with the broker's max_message_size",
      });
    } catch (error) {
      if (!isConfigError(error)) throw error;
      problems.push(...error.problems); // one ConfigError that names every problem
    }
    ConfigError.throwIfAny(problems);
    await this.connect();
    if (this.#closed) throw new ClosedError('rabbitmq transport');
    const route = this.options.routes[topic];
    const exchange = route?.exchange ?? this.options.exchange;
    const routingKey = route?.routingKey ?? topic;
    const { mandatory } = this.options;
    const publisher = this.#publisher!;
    const sending = Promise.all(batch.map((m) => publisher.send(toEnvelope(m, exchange, routingKey, mandatory), asBuffer(m.payload)))).then(
      async () => {
        if (!mandatory) return;
        await nextTick(); // returns are emitted on a later tick than the confirm that follows them
        const unroutable = batch.filter((m) => this.#returns.take(m.id)).map((m) => m.id);
        if (unroutable.length > 0) {
          throw new TransportError(
            `rabbitmq: ${unroutable.length} of ${batch.length} message(s) to "${topic}" reached no queue (exchange "${exchange}", routing key "${routingKey}"): no group is bound yet; subscribe first or publish without mandatory`,
            { retryable: true },
          );
        }
      },
      (error: unknown) => {
        throw toSwitchyardError(error, `publish to "${topic}"`);
      },
    );
    this.#pending.add(sending);
    const forget = (): void => void this.#pending.delete(sending);
    sending.then(forget, forget);
    const what = `rabbitmq publish of ${batch.length} message(s) to "${topic}" (the broker may still store them)`;
    await withTimeout(sending, this.options.publishTimeoutMs, what).catch((error: unknown) => {
      const blocked = this.#blocked;
      if (!(error instanceof TimeoutError) || !blocked) throw error;
      // The usual reason a confirm never comes: the broker stopped reading from publishers.
      throw new TimeoutError(
        `${what}, which the broker has blocked on this connection since ${blocked.since.toISOString()} ("${blocked.reason}": RabbitMQ ` +
          'blocks publishers while a disk or memory alarm is raised — free disk space below disk_free_limit, or memory above ' +
          'vm_memory_high_watermark; publishing resumes by itself once the alarm clears: free space on the broker, or raise the limit),',
        error.timeoutMs,
      );
    });
  }

  /**
   * True while the AMQP connection is open (also while the broker blocks publishing: see `blocked`);
   * false before `connect()` finished, while reconnecting after a dropped connection, and after `close()`.
   */
  get connected(): boolean {
    return this.#ready && this.#live && !this.#closed;
  }

  /** Why and since when the broker blocks this connection's publishing (a resource alarm), or undefined. */
  get blocked(): { reason: string; since: Date } | undefined {
    return this.#blocked;
  }

  async subscribe(topic: string, options: SubscribeOptions, handler: Handler): Promise<Subscription> {
    const resolved = resolveSubscribeOptions(this, topic, options, handler);
    if (this.#closed) throw new ClosedError('rabbitmq transport');
    const plan = this.#plan(topic, resolved);
    await this.connect();
    if (this.#closed) throw new ClosedError('rabbitmq transport');
    const sub = new RabbitMQSubscription(this.#host, topic, resolved, handler, plan);
    this.#subscriptions.add(sub);
    try {
      await sub.start();
    } catch (error) {
      this.#subscriptions.delete(sub);
      throw error;
    }
    if (plan.declare) this.#declaredQueues.add(plan.queue);
    for (const r of plan.retryQueues) this.#declaredQueues.add(r.queue);
    return sub;
  }

  /** What a subscription declares and consumes. */
  #plan(topic: string, resolved: ResolvedSubscribeOptions): ConsumePlan {
    const o = this.options;
    const route = isPattern(topic) ? undefined : o.routes[topic];
    const existing = route?.queues?.[resolved.group];
    const queue = this.queueFor(topic, resolved.group);
    let settings: QueueSettings = o.groupQueue;
    let settingsFrom = 'groupQueue';
    let declare: ConsumePlan['declare'];
    const exchanges: ConsumePlan['exchanges'] = [];
    const bindings: ConsumePlan['bindings'] = [];
    if (existing !== undefined) {
      const spec = (o.topology.queues ?? []).find((q) => q.name === existing);
      if (spec) {
        settings = spec;
        settingsFrom = topologyQueueSettings(spec.name);
      }
      declare = spec ? queueDeclaration(spec.name, spec) : undefined;
    } else {
      declare = queueDeclaration(queue, settings);
      if (route) {
        const spec = (o.topology.exchanges ?? []).find((e) => e.name === route.exchange);
        if (spec) exchanges.push(exchangeDeclaration(spec));
        if (route.exchange === '') throw new ConfigError(`routes["${topic}"]: the default exchange cannot be bound; name the queue in routes["${topic}"].queues`);
        bindings.push({ exchange: route.exchange, routingKey: route.routingKey ?? topic });
      } else {
        exchanges.push(this.#sharedExchange());
        bindings.push({ exchange: o.exchange, routingKey: bindingKey(topic) });
      }
    }
    const delays = [...new Set(o.redeliveryDelaysMs.filter((d) => d > 0))];
    const retryQueues = delays.map((d) => retryQueueDeclaration(queue, d, settings));
    return {
      queue,
      declare,
      settingsFrom,
      exchanges,
      bindings,
      retryQueues,
      topic: route ? topic : undefined,
      prefetch: o.prefetch ?? Math.max(2 * resolved.concurrency, 50),
    };
  }

  /**
   * Declares a subscription's retry queues. One that an older version declared without
   * `x-expires` is replaced if empty; if not, it is used as it is (renewed like the others, so it
   * is safe once another member replaces it) and reported once.
   */
  async #declareRetryQueues(declarations: readonly QueueDeclaration[]): Promise<void> {
    const { legacy } = await declareRetryQueues(this.#host.connection, declarations);
    for (const d of declarations) this.#retryDeclarations.set(d.queue, d);
    for (const queue of legacy) {
      if (this.#legacyReported.has(queue)) continue;
      this.#legacyReported.add(queue);
      const error = new ConfigError(
        `rabbitmq: retry queue "${queue}" exists without x-expires (declared before retry queues expired with their group) and holds messages, ` +
          'so it is used as it is and will not expire with its group queue until it is replaced: the next subscription or reconnect that finds it empty ' +
          `replaces it. To replace it now, stop the group's subscribers, wait until it is empty (at most its delay), and delete it (rabbitmqctl delete_queue "${queue}")`,
      );
      this.#event({ type: 'error', error, context: `declaring retry queue "${queue}"` });
    }
  }

  async #redeliver(delivery: AsyncMessage, message: Message, queue: string): Promise<void> {
    const declaration = this.#retryDeclarations.get(queue);
    if (declaration && expires(declaration)) {
      const retryPublisher = this.#retryPublisher;
      if (!retryPublisher) throw new ClosedError('rabbitmq transport');
      try {
        await retryPublisher.send(declaration, redeliveryEnvelope(delivery, message, queue), bodyBytes(delivery.body), message.id);
      } catch (error) {
        throw toSwitchyardError(error, `redelivering message ${message.id} through "${queue}"`);
      }
      return;
    }
    const redeliverer = this.#redeliverer;
    if (!redeliverer) throw new ClosedError('rabbitmq transport');
    try {
      await redeliverer.send(redeliveryEnvelope(delivery, message, queue), bodyBytes(delivery.body));
    } catch (error) {
      throw toSwitchyardError(error, `redelivering message ${message.id} through "${queue}"`);
    }
    await nextTick();
    if (this.#redeliveryReturns.take(message.id)) throw new TransportError(`rabbitmq: queue "${queue}" does not exist; message ${message.id} was not redelivered through it`);
  }

  /**
   * Deletes the queue of `group` on `topic` and its retry queues, messages and all, as
   * `rabbitmqctl delete_queue` does. Close the group's subscriptions first: a queue this transport
   * still reads is refused with a ConfigError.
   *
   * @example
   * ```ts
   * await sub.close();
   * await bus.deleteGroup('orders.*', 'one-off-audit');
   * ```
   */
  async deleteGroup(topic: string, group: string): Promise<void> {
    if (this.#closed) throw new ClosedError('rabbitmq transport');
    ConfigError.throwIfAny([...patternProblems(topic), ...groupProblems(group)]);
    const queue = this.queueFor(topic, group);
    if ([...this.#subscriptions].some((s) => s.plan.queue === queue)) {
      throw new ConfigError(`delete group "${group}" of "${topic}": this transport still reads its queue "${queue}"; close that subscription first`);
    }
    await this.connect();
    const delays = [...new Set(this.options.redeliveryDelaysMs.filter((d) => d > 0))];
    for (const name of [queue, ...delays.map((d) => retryQueueName(queue, d))]) {
      try {
        await this.#connection!.queueDelete({ queue: name });
      } catch (error) {
        throw toSwitchyardError(error, `delete queue "${name}" of group "${group}"`);
      }
      this.#declaredQueues.delete(name);
      this.#retryDeclarations.delete(name);
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    await this.#connecting?.catch(() => undefined);
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
    // Publishes still waiting for a confirm get their own timeout, no more: with the broker gone
    // the client retries them as long as it reconnects, and close() would wait for ever.
    const deadline = Date.now() + this.options.publishTimeoutMs;
    await waitAtMost(Promise.allSettled([...this.#pending]), deadline - Date.now());
    await waitAtMost(
      Promise.allSettled([this.#publisher?.close(), this.#redeliverer?.close(), this.#retryPublisher?.close(Math.max(0, deadline - Date.now()))]),
      Math.max(0, deadline - Date.now()),
    );
    // connection.close() waits for every channel to close and then for the broker's close-ok, which
    // a broker that stopped reading (a resource alarm) never sends: after publishTimeoutMs more,
    // drop the socket. The broker requeues whatever was left unacknowledged.
    const connection = this.#connection;
    if (!connection) return;
    let closed = false;
    await waitAtMost(
      connection.close().then(() => (closed = true)),
      this.options.publishTimeoutMs,
    );
    if (!closed) connection.unsafeDestroy();
  }
}

/**
 * Creates the RabbitMQ transport. Nothing connects until `connect()`, `publish()` or `subscribe()`.
 *
 * @example
 * ```ts
 * import { rabbitmq } from 'switchyard/rabbitmq';
 * const bus = rabbitmq({ url: 'amqp://guest:guest@127.0.0.1:5672', prefetch: 100 });
 * await bus.subscribe('orders.*', { group: 'audit' }, async (msg) => console.log(msg.topic, msg.attempt));
 * await bus.publish('orders.placed', { key: 'customer-7', payload: Buffer.from('{"id":1}') });
 * await bus.close();
 * ```
 */
export function rabbitmq(options: RabbitMQOptions = {}): RabbitMQTransport {
  return new RabbitMQTransport(options);
}
