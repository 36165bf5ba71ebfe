import { Admin } from '@platformatic/kafka';
import type { Capabilities } from '../../core/capabilities.ts';
import { ClosedError, ConfigError, isTransportError } from '../../core/errors.ts';
import { normalizeOutgoing, type OutgoingMessage } from '../../core/message.ts';
import { redact } from '../../core/redact.ts';
import { resolveSubscribeOptions } from '../../core/subscribe-options.ts';
import { groupProblems, isPattern } from '../../core/topic.ts';
import type { Handler, SubscribeOptions, Subscription, Transport } from '../../core/transport.ts';
import { checkMessageLimits, DEFAULT_MAX_HEADER_BYTES } from '../../internal/message-limits.ts';
import { skipsVerify, warnSkipVerify } from '../../internal/transport-tls.ts';
import { waitAtMost, withTimeout } from '../../internal/with-timeout.ts';
import { abortable } from '../../internal/abortable.ts';
import { ClusterLink } from './cluster-link.ts';
import { KafkaSubscription } from './consumer.ts';
import { toKafkaError } from './errors.ts';
import { MESSAGE_ID_HEADER } from './mapping.ts';
import { baseClientOptions, resolveKafkaOptions, type KafkaOptions, type ResolvedKafkaOptions } from './options.ts';
import { KafkaPublisher } from './producer.ts';
import { BATCH_HEADER_BYTES, checkRecordSizes, DEFAULT_MAX_PAYLOAD_BYTES, defaultMaxRecordBytes, KAFKA_DEFAULT_MAX_RECORD_BYTES } from './record-size.ts';
import { declareTopics, type TopologyReport } from './topology.ts';
import { kafkaTopicProblem } from './topic-name.ts';

/** Options of `kafka()` plus what only the transport (not the clients) needs. */
export interface KafkaTransportOptions extends KafkaOptions {
  /**
   * Largest payload the transport claims to carry (`capabilities.maxPayloadBytes`). Default
   * 1,000,000: a broker's default `message.max.bytes` (1,048,588) minus room for key, headers and
   * framing. Raise it together with the broker's and topic's `max.message.bytes` (and
   * `maxRecordBytes`, which follows it unless given).
   */
  maxPayloadBytes?: number;
  /** Largest total size of a message's headers (names and values, UTF-8); they count toward the broker's limit too. Default 65,536. */
  maxHeaderBytes?: number;
  /**
   * Largest record batch one message may make — payload, key, headers, the `x-message-id` header
   * and the record format's framing, uncompressed — as the broker measures it against
   * `message.max.bytes`: a larger message is refused with a `ConfigError` before anything is
   * sent, instead of by the broker. Set it to the brokers' `message.max.bytes` (or the topic's
   * `max.message.bytes` when lower). Default 1,048,588, Kafka's default; when `maxPayloadBytes` is
   * raised above 1,000,000 and this is not given, `maxPayloadBytes` + 48,588. Must exceed
   * `maxPayloadBytes`. It bounds merged batches too: `producer.batchMaxBytes` must be at most this
   * minus 61 (the batch header), and when not given is lowered to that.
   */
  maxRecordBytes?: number;
}

/**
 * The Kafka transport over @platformatic/kafka: one idempotent producer and one admin client per
 * transport, one consumer-group member per subscription.
 */
export class KafkaTransport implements Transport {
  readonly name = 'kafka';
  readonly capabilities: Capabilities;
  /** The options with defaults applied. */
  readonly config: ResolvedKafkaOptions;
  /** What `connect()` found when declaring `topics` (undefined before). */
  topology: TopologyReport | undefined;
  readonly #subscriptions = new Set<KafkaSubscription>();
  readonly #maxHeaderBytes: number;
  readonly #maxRecordBytes: number;
  #publisher: KafkaPublisher | undefined;
  #admin: Admin | undefined;
  #link: ClusterLink | undefined;
  #connecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  /** Aborted by `close()`: a connect attempt under way stops waiting for the cluster. */
  readonly #halt = new AbortController();

  constructor(options: KafkaTransportOptions) {
    this.config = resolveKafkaOptions(options);
    const max = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    const maxHeaders = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    const maxRecord = options.maxRecordBytes ?? (Number.isInteger(max) ? defaultMaxRecordBytes(max) : KAFKA_DEFAULT_MAX_RECORD_BYTES);
    const limits: Array<[string, unknown]> = [
      ['maxPayloadBytes', max],
      ['maxHeaderBytes', maxHeaders],
      ['maxRecordBytes', maxRecord],
    ];
    const problems = limits.filter(([, v]) => !Number.isInteger(v) || (v as number) < 1).map(([name, v]) => `${name} must be a whole number ≥ 1, got ${JSON.stringify(v)}`);
    if (problems.length === 0 && max >= maxRecord) {
      problems.push(
        `maxPayloadBytes (${max}) must be below maxRecordBytes (${maxRecord}): a message's record batch holds its payload plus key, headers and framing; ` +
          "set maxRecordBytes to the brokers' message.max.bytes and maxPayloadBytes below it",
      );
    }
    if (problems.length === 0) problems.push(...this.#fitBatchToRecordLimit(options.producer?.batchMaxBytes, maxRecord));
    ConfigError.throwIfAny(problems);
    this.#maxHeaderBytes = maxHeaders;
    this.#maxRecordBytes = maxRecord;
    if (skipsVerify(options.tls ?? options.ssl)) warnSkipVerify('kafka', this.config.brokers.join(','));
    this.capabilities = Object.freeze({
      durable: true,
      redelivery: true,
      persistentGroups: true,
      replay: true,
      partitions: true,
      delayedRedelivery: true,
      // Patterns are matched against the cluster's topic list every `consumer.topicRefreshMs`.
      wildcards: true,
      requestReply: false,
      maxPayloadBytes: max,
    });
  }

  /**
   * Keeps `producer.batchMaxBytes` within `maxRecordBytes`: the messages of one partition merged
   * into a produce request make one record batch, which the broker refuses whole above its
   * `message.max.bytes` — failing every publish merged into it. Not given, it follows a lowered
   * `maxRecordBytes`; given above it, it is a problem to report (the returned list).
   */
  #fitBatchToRecordLimit(given: number | undefined, maxRecordBytes: number): string[] {
    // The batch header comes once per batch; the producer's estimate covers each record's framing.
    const limit = Math.max(1, maxRecordBytes - BATCH_HEADER_BYTES);
    if (given === undefined) {
      this.config.producer.batchMaxBytes = Math.min(this.config.producer.batchMaxBytes, limit);
      return [];
    }
    if (given <= limit) return [];
    return [
      `producer.batchMaxBytes (${given}) must be at most maxRecordBytes (${maxRecordBytes}) minus the ${BATCH_HEADER_BYTES}-byte batch header, ${limit}: ` +
        "the messages of one partition merged into a produce request make one record batch, which the broker refuses whole above its message.max.bytes; " +
        "lower producer.batchMaxBytes, or, if the brokers' message.max.bytes (and the topics' max.message.bytes) is higher, set maxRecordBytes to it",
    ];
  }

  /** The producer, admin client and subscriptions' consumers (see `native.ts`). */
  get clients(): { producer: KafkaPublisher | undefined; admin: Admin | undefined; subscriptions: ReadonlySet<KafkaSubscription> } {
    return { producer: this.#publisher, admin: this.#admin, subscriptions: this.#subscriptions };
  }

  /**
   * Whether the transport can reach the cluster, from what its clients already see (no request is
   * sent to answer it). False before `connect()` succeeded and after `close()`. True from then on
   * while the cluster answers: when the last broker connection of the transport's producer and admin
   * client closes, or a publish fails with a retryable error (at most once a second), the admin client sends one Metadata
   * request to the first broker that takes a connection (bootstrap brokers first, then those the
   * cluster advertised), and `connected` stays true while that runs. It turns false when that
   * request fails (every known broker refused or timed out: within `connectTimeoutMs` per
   * broker, or `requestTimeoutMs` on a connection that stopped answering), and true again once the
   * same request, repeated every 250 ms to 5 s (and at once when a client opens a connection), succeeds.
   *
   * It cannot see one broker of several down (the cluster still answers, though publishes to
   * partitions led by that broker fail until leadership moves), and it does not follow the
   * subscriptions' consumers: a connection that silently stops answering (no close, no reset) is
   * noticed only through a failing publish.
   */
  get connected(): boolean {
    return !this.#closed && this.#link?.up === true;
  }

  /**
   * Connects the admin client (one Metadata request) and declares `topics`; publish() and
   * subscribe() call it themselves. Rejects with a ClosedError when `close()` is called before it
   * finished (it does not wait for a cluster that does not answer), and with a TransportError when
   * the cluster cannot be reached; a later call tries again.
   */
  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError('kafka transport'));
    this.#connecting ??= this.#connect().catch((error: unknown) => {
      this.#connecting = undefined;
      throw error;
    });
    return this.#connecting;
  }

  async #connect(): Promise<void> {
    const admin = new Admin(baseClientOptions(this.config, 'admin'));
    const publisher = new KafkaPublisher(this.config);
    const { connectTimeoutMs, requestTimeoutMs } = this.config;
    const link = new ClusterLink(() =>
      withTimeout(admin.metadata({ topics: [], forceUpdate: true, retries: 0 }), connectTimeoutMs + requestTimeoutMs, 'Kafka cluster check'),
    );
    link.watch(admin);
    link.watch(publisher.client);
    try {
      // Against brokers that accept connections but do not answer, this takes the client's retries
      // of requestTimeoutMs: close() does not wait for that (closing the clients below fails the
      // requests still pending).
      const declaring = (async () => {
        await admin.metadata({ topics: [] });
        return declareTopics(admin, this.config.topics);
      })();
      this.topology = await abortable(declaring, this.#halt.signal);
    } catch (error) {
      link.stop();
      await waitAtMost(admin.close(), this.config.requestTimeoutMs);
      await publisher.close().catch(() => undefined);
      if (this.#closed) throw new ClosedError('kafka transport', { detail: 'close() was called while it was connecting' });
      const failure = toKafkaError(`connect to Kafka at ${this.config.brokers.join(',')}`, error);
      failure.message = redact(failure.message, this.#secrets());
      throw failure;
    }
    this.#admin = admin;
    this.#publisher = publisher;
    this.#link = link;
    if (this.#closed) link.stop();
    else link.start();
  }

  async publish(topic: string, messages: OutgoingMessage | readonly OutgoingMessage[]): Promise<void> {
    if (this.#closed) throw new ClosedError('kafka transport');
    const batch = normalizeOutgoing(topic, messages);
    const unfit = kafkaTopicProblem(topic, 'topic');
    if (unfit) throw new ConfigError(unfit);
    const reserved = batch.findIndex((m) => Object.hasOwn(m.headers, MESSAGE_ID_HEADER));
    if (reserved >= 0) {
      throw new ConfigError(`publish to "${topic}": header "${MESSAGE_ID_HEADER}" is reserved for the message id (set message.id instead)`);
    }
    if (batch.length === 0) return;
    checkMessageLimits(topic, batch, {
      transport: 'kafka',
      maxPayloadBytes: this.capabilities.maxPayloadBytes,
      maxHeaderBytes: this.#maxHeaderBytes,
      payloadHint: "together with the broker's message.max.bytes and the topic's max.message.bytes",
    });
    checkRecordSizes(topic, batch, this.#maxRecordBytes, this.#maxHeaderBytes);
    // Not #connected(): a publish issued before close() is still sent, and close() waits for it.
    await this.connect();
    await this.#publisher!.publish(topic, batch).catch((error: unknown) => {
      if (isTransportError(error) && error.retryable) this.#link?.suspect();
      throw error;
    });
  }

  async subscribe(topic: string, options: SubscribeOptions, handler: Handler): Promise<Subscription> {
    const resolved = resolveSubscribeOptions(this, topic, options, handler);
    const unfit = kafkaTopicProblem(topic, isPattern(topic) ? 'pattern' : 'topic');
    if (unfit) throw new ConfigError(unfit);
    if (this.#closed) throw new ClosedError('kafka transport');
    await this.#connected();
    const sub = new KafkaSubscription(this.config, this.#admin!, topic, resolved, handler, () => this.#subscriptions.delete(sub));
    this.#subscriptions.add(sub);
    try {
      await sub.start();
    } catch (error) {
      await sub.close().catch(() => undefined);
      throw toKafkaError(`subscribe to "${topic}" as group "${resolved.group}"`, error);
    }
    return sub;
  }

  /**
   * Deletes consumer group `group` and its committed offsets (DeleteGroups), as
   * `kafka-consumer-groups --delete` does. The group must have no members: close its subscriptions
   * first. Rejects with a TransportError when the cluster refuses (the librdkafka mock cluster has
   * no DeleteGroups API; Kafka itself drops an empty group's offsets after `offsets.retention.minutes`).
   *
   * @example
   * ```ts
   * await sub.close();
   * await bus.deleteGroup('one-off-backfill');
   * ```
   */
  async deleteGroup(group: string): Promise<void> {
    if (this.#closed) throw new ClosedError('kafka transport');
    ConfigError.throwIfAny(groupProblems(group));
    await this.#connected();
    try {
      await this.#admin!.deleteGroups({ groups: [group] });
    } catch (error) {
      throw toKafkaError(`delete group "${group}"`, error);
    }
  }

  /** Connects, and rejects with a ClosedError when close() was called meanwhile (its clients are closing). */
  async #connected(): Promise<void> {
    await this.connect();
    if (this.#closed) throw new ClosedError('kafka transport');
  }

  /** The SASL password (when a string), so messages built from client errors can be scrubbed of it. */
  #secrets(): string[] {
    const password = (this.config.sasl as { password?: unknown } | undefined)?.password;
    return typeof password === 'string' ? [password] : [];
  }

  /**
   * Closes every subscription (see `KafkaSubscription.close()`), then the producer (waiting for
   * publishes in flight at most `producer.timeoutMs`) and the admin client. A connect under way is
   * given up at once: it, and the publish() and subscribe() calls waiting on it, reject with a
   * ClosedError, as do subscribe() calls still joining their group. Later calls reject with a
   * ClosedError too; calling close() again returns the same promise.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#halt.abort();
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // Settles at once now (aborted above), once the attempt's clients are closed.
    await this.#connecting?.catch(() => undefined);
    this.#link?.stop();
    await Promise.all([...this.#subscriptions].map((s) => s.close().catch(() => undefined)));
    await this.#publisher?.close();
    await this.#admin?.close().catch(() => undefined);
  }
}

/**
 * Creates the Kafka transport. Nothing connects until `connect()` (or the first publish/subscribe).
 * Defaults are the safe ones: `acks: 'all'`, idempotent producer, commits only after success.
 *
 * @example
 * ```ts
 * import { kafka } from 'switchyard/kafka';
 * const bus = kafka({
 *   brokers: ['127.0.0.1:9092'],
 *   producer: { compression: 'lz4' },
 *   topics: { 'orders.placed': { partitions: 6, retentionMs: 7 * 24 * 3600_000 } },
 * });
 * await bus.subscribe('orders.placed', { group: 'billing', concurrency: 16 }, async (msg) => {
 *   console.log(msg.key, msg.partition, msg.offset);
 * });
 * await bus.publish('orders.placed', { key: 'customer-42', payload: new TextEncoder().encode('{}') });
 * ```
 */
export function kafka(options: KafkaTransportOptions): KafkaTransport {
  return new KafkaTransport(options);
}
