import type { SASLOptions } from '@platformatic/kafka';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { ConfigError } from '../../core/errors.ts';
import { topicProblems } from '../../core/topic.ts';
import { kafkaTopicProblem } from './topic-name.ts';
import { nodeTlsOptions, tlsOptionProblems, type TlsConnectOptions } from '../../internal/transport-tls.ts';

/** Compression codecs @platformatic/kafka writes and reads (zstd needs Node's zlib zstd, Node ≥ 22.15). */
export type KafkaCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** Producer settings. Defaults favour safety: `acks: 'all'` and idempotence on. */
export interface KafkaProducerOptions {
  /** Replicas that must have a record before the broker acknowledges it. Default `'all'`. */
  acks?: 'all' | 1 | 0;
  /** Idempotent producer (no duplicates from retries). Default true; needs `acks: 'all'`. */
  idempotent?: boolean;
  /** Batch compression. Default `'none'`. */
  compression?: KafkaCompression;
  /** Wait up to this long for more publishes to join a batch. Default 0 (next tick). */
  lingerMs?: number;
  /** Most messages in one produce request. Default 10,000. */
  batchMaxMessages?: number;
  /**
   * Most bytes (payloads, keys and headers, estimated) in one produce request. Default 1,000,000,
   * under the broker's default `message.max.bytes` (1 MiB): a batch above the broker's limit is
   * refused whole. Publishes are merged up to this bound; one `publish()` call larger than it (or
   * than `batchMaxMessages`) is sent as several requests, one after another, in order, and
   * resolves once all were acknowledged. A single message larger than this goes in a request of
   * its own (the transport's `maxRecordBytes` bounds a message). It must stay below the brokers'
   * `message.max.bytes`, as the messages of one partition merged into a request make one batch:
   * at most the transport's `maxRecordBytes` minus 61 (a ConfigError otherwise), and lowered to
   * that when not given.
   */
  batchMaxBytes?: number;
  /** Retries of a failed produce request. Default 5. */
  retries?: number;
  /** Wait between retries, in ms (grows linearly with the attempt). Default 200. */
  retryBackoffMs?: number;
  /** `publish()` rejects with a retryable TransportError after this long. Default 30,000 ms. */
  timeoutMs?: number;
  /** Let the broker create topics on first use (broker setting `auto.create.topics.enable`). Default true. */
  autocreateTopics?: boolean;
}

/** Consumer settings, shared by every subscription of the transport. */
export interface KafkaConsumerOptions {
  /** Group session timeout. Default 30,000 ms. */
  sessionTimeoutMs?: number;
  /** Heartbeat interval. Default 3,000 ms. */
  heartbeatIntervalMs?: number;
  /** Time members get to rejoin during a rebalance. Default 60,000 ms. */
  rebalanceTimeoutMs?: number;
  /** Fetch max-wait: how long the broker holds an empty fetch. Default 500 ms. */
  maxWaitMs?: number;
  /** Fetch response limit per partition, in bytes. Default 1 MiB. */
  maxBytesPerPartition?: number;
  /** Messages read ahead (waiting, not in flight) before fetching pauses. Default 1,000. */
  maxBufferedMessages?: number;
  /** Wait before a failed message is delivered again, in ms. Default 0. */
  redeliveryDelayMs?: number;
  /** How long `close()` and a rebalance let in-flight handlers run. Default 30,000 ms. */
  drainTimeoutMs?: number;
  /**
   * Completed offsets are committed at most this often (a rebalance and `close()` commit at once).
   * Bounds what a crashed consumer's successor processes again. Default 100 ms; 0 = every turn.
   */
  commitIntervalMs?: number;
  /**
   * How often a pattern subscription (`orders.*`, `orders.>`) lists the cluster's topics to pick
   * up new ones that match (and let go of deleted ones). Default 5,000 ms.
   */
  topicRefreshMs?: number;
}

/** A topic the transport declares on `connect()`: created when missing, checked when present. */
export interface KafkaTopicSpec {
  /** Partition count. Default: the broker's `num.partitions` (creation) / not checked. */
  partitions?: number;
  /** Replication factor. Default: the broker's default. */
  replicationFactor?: number;
  /** `cleanup.policy`. */
  cleanupPolicy?: 'delete' | 'compact' | 'compact,delete';
  /** `retention.ms` (-1 = forever). */
  retentionMs?: number;
  /** Any other topic configs, as Kafka names them (`min.insync.replicas`, `segment.bytes`…). */
  config?: Record<string, string>;
}

/** Options of `kafka()`. */
export interface KafkaOptions {
  /** Bootstrap brokers, `host:port` (array or comma-separated). */
  brokers: string | readonly string[];
  /** Client id reported to the brokers. Default `switchyard`. */
  clientId?: string;
  producer?: KafkaProducerOptions;
  consumer?: KafkaConsumerOptions;
  /** Topics declared on `connect()`. */
  topics?: Record<string, KafkaTopicSpec>;
  /**
   * TLS: `true` for defaults, or Node's `tls.connect` options (`ca`, client `cert`/`key`,
   * `servername`…). The broker's certificate is always verified (chain and host name) unless
   * `{ dangerouslySkipVerify: true }`, which logs a warning; `rejectUnauthorized: false` is refused.
   * The same option as `tls` on the RabbitMQ and NATS transports.
   */
  tls?: boolean | TlsConnectOptions;
  /** Kafka's name for `tls` (either, not both). */
  ssl?: boolean | TlsConnectOptions;
  /**
   * SASL authentication, as @platformatic/kafka takes it (`PLAIN`, `SCRAM-SHA-256/512`,
   * `OAUTHBEARER`). Use it over `tls` (SASL PLAIN sends the password as is). Take the password
   * from the environment or a secret store; Switchyard never logs it and masks it in errors.
   */
  sasl?: SASLOptions;
  /** Connection timeout. Default 5,000 ms. */
  connectTimeoutMs?: number;
  /** Request timeout for every broker request. Default 30,000 ms. */
  requestTimeoutMs?: number;
}

/** Options with every default applied. */
export interface ResolvedKafkaOptions {
  brokers: string[];
  clientId: string;
  producer: Required<KafkaProducerOptions>;
  consumer: Required<KafkaConsumerOptions>;
  topics: Record<string, KafkaTopicSpec>;
  ssl: TlsOptions | undefined;
  sasl: SASLOptions | undefined;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

const COMPRESSIONS: readonly KafkaCompression[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

function nonNegative(problems: string[], name: string, value: unknown, integer = true): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    problems.push(`${name} must be a ${integer ? 'whole ' : ''}number ≥ 0, got ${JSON.stringify(value)}`);
  }
}

function positive(problems: string[], name: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) problems.push(`${name} must be a whole number ≥ 1, got ${JSON.stringify(value)}`);
}

const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER', 'GSSAPI'];

function saslProblems(sasl: SASLOptions | undefined): string[] {
  if (sasl === undefined) return [];
  const shape = 'sasl must be { mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512", username, password } or { mechanism: "OAUTHBEARER", token }';
  if (typeof sasl !== 'object' || sasl === null || typeof sasl.mechanism !== 'string') return [shape];
  if (!MECHANISMS.includes(sasl.mechanism)) return [`sasl.mechanism must be one of ${MECHANISMS.join(', ')}, got ${JSON.stringify(sasl.mechanism)}`];
  const custom = typeof (sasl as { authenticate?: unknown }).authenticate === 'function';
  if (!custom && ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'].includes(sasl.mechanism)) {
    const s = sasl as { username?: unknown; password?: unknown };
    // Say which is missing, never what was given: it may be the password.
    const missing = [typeof s.username === 'string' || typeof s.username === 'function' ? '' : 'username', typeof s.password === 'string' || typeof s.password === 'function' ? '' : 'password'].filter(Boolean);
    if (missing.length > 0) return [`sasl ${sasl.mechanism} needs ${missing.join(' and ')}`];
  }
  return [];
}

/** Validates `kafka()` options, reporting every problem in one ConfigError, and applies defaults. */
export function resolveKafkaOptions(options: KafkaOptions): ResolvedKafkaOptions {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) throw new ConfigError('kafka() needs options: { brokers: ["host:9092"] }');
  const list = typeof options.brokers === 'string' ? options.brokers.split(',') : Array.isArray(options.brokers) ? [...options.brokers] : [];
  const brokers = list.map((b) => String(b).trim()).filter((b) => b !== '');
  if (brokers.length === 0) problems.push('brokers must list at least one "host:port" (e.g. ["127.0.0.1:9092"])');
  for (const b of brokers) if (!/^[^\s:]+:\d{1,5}$/.test(b) && !/^\[[0-9a-f:]+\]:\d{1,5}$/i.test(b)) problems.push(`broker "${b}" must be "host:port"`);
  if (options.clientId !== undefined && (typeof options.clientId !== 'string' || options.clientId === '')) problems.push('clientId must be a non-empty string');

  const p = options.producer ?? {};
  const acks = p.acks ?? 'all';
  if (acks !== 'all' && acks !== 1 && acks !== 0) problems.push(`producer.acks must be 'all', 1 or 0, got ${JSON.stringify(acks)}`);
  const idempotent = p.idempotent ?? true;
  if (typeof idempotent !== 'boolean') problems.push('producer.idempotent must be a boolean');
  if (idempotent === true && acks !== 'all') problems.push(`producer.idempotent needs acks: 'all' (got acks: ${JSON.stringify(acks)}); set idempotent: false to use weaker acks`);
  const compression = p.compression ?? 'none';
  if (!COMPRESSIONS.includes(compression)) problems.push(`producer.compression must be one of ${COMPRESSIONS.join(', ')}, got ${JSON.stringify(compression)}`);
  nonNegative(problems, 'producer.lingerMs', p.lingerMs);
  positive(problems, 'producer.batchMaxMessages', p.batchMaxMessages);
  positive(problems, 'producer.batchMaxBytes', p.batchMaxBytes);
  nonNegative(problems, 'producer.retries', p.retries);
  nonNegative(problems, 'producer.retryBackoffMs', p.retryBackoffMs);
  positive(problems, 'producer.timeoutMs', p.timeoutMs);

  const c = options.consumer ?? {};
  positive(problems, 'consumer.sessionTimeoutMs', c.sessionTimeoutMs);
  positive(problems, 'consumer.heartbeatIntervalMs', c.heartbeatIntervalMs);
  positive(problems, 'consumer.rebalanceTimeoutMs', c.rebalanceTimeoutMs);
  nonNegative(problems, 'consumer.maxWaitMs', c.maxWaitMs);
  positive(problems, 'consumer.maxBytesPerPartition', c.maxBytesPerPartition);
  positive(problems, 'consumer.maxBufferedMessages', c.maxBufferedMessages);
  nonNegative(problems, 'consumer.redeliveryDelayMs', c.redeliveryDelayMs);
  nonNegative(problems, 'consumer.drainTimeoutMs', c.drainTimeoutMs);
  nonNegative(problems, 'consumer.commitIntervalMs', c.commitIntervalMs);
  positive(problems, 'consumer.topicRefreshMs', c.topicRefreshMs);
  const sessionTimeoutMs = c.sessionTimeoutMs ?? 30_000;
  const heartbeatIntervalMs = c.heartbeatIntervalMs ?? 3_000;
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    problems.push(`consumer.heartbeatIntervalMs (${heartbeatIntervalMs}) must be below consumer.sessionTimeoutMs (${sessionTimeoutMs})`);
  }

  const rebalanceTimeoutMs = c.rebalanceTimeoutMs ?? 60_000;
  if (rebalanceTimeoutMs < sessionTimeoutMs) {
    problems.push(`consumer.rebalanceTimeoutMs (${rebalanceTimeoutMs}) must be at least consumer.sessionTimeoutMs (${sessionTimeoutMs})`);
  }

  const topics = options.topics ?? {};
  if (typeof topics !== 'object' || topics === null) problems.push('topics must be an object: { "orders.placed": { partitions: 6 } }');
  else {
    for (const [name, spec] of Object.entries(topics)) {
      const nameProblems = topicProblems(name);
      const unfit = nameProblems.length === 0 ? kafkaTopicProblem(name, 'topic') : undefined;
      problems.push(...nameProblems.map((m) => `topics: ${m}`), ...(unfit ? [`topics: ${unfit}`] : []));
      if (typeof spec !== 'object' || spec === null) {
        problems.push(`topics["${name}"] must be an object`);
        continue;
      }
      positive(problems, `topics["${name}"].partitions`, spec.partitions);
      positive(problems, `topics["${name}"].replicationFactor`, spec.replicationFactor);
      if (spec.retentionMs !== undefined && (!Number.isInteger(spec.retentionMs) || spec.retentionMs < -1)) {
        problems.push(`topics["${name}"].retentionMs must be a whole number ≥ -1, got ${JSON.stringify(spec.retentionMs)}`);
      }
      if (spec.cleanupPolicy !== undefined && !['delete', 'compact', 'compact,delete'].includes(spec.cleanupPolicy)) {
        problems.push(`topics["${name}"].cleanupPolicy must be 'delete', 'compact' or 'compact,delete', got ${JSON.stringify(spec.cleanupPolicy)}`);
      }
      for (const [k, v] of Object.entries(spec.config ?? {})) {
        if (typeof v !== 'string') problems.push(`topics["${name}"].config["${k}"] must be a string, got ${typeof v}`);
      }
    }
  }
  nonNegative(problems, 'connectTimeoutMs', options.connectTimeoutMs);
  nonNegative(problems, 'requestTimeoutMs', options.requestTimeoutMs);
  if (options.tls !== undefined && options.ssl !== undefined) problems.push('give tls or ssl (the same option), not both');
  const tlsName = options.tls !== undefined ? 'tls' : 'ssl';
  const tls = options.tls ?? options.ssl;
  problems.push(...tlsOptionProblems(tlsName, tls));
  problems.push(...saslProblems(options.sasl));
  ConfigError.throwIfAny(problems);

  return {
    brokers,
    clientId: options.clientId ?? 'switchyard',
    producer: {
      acks,
      idempotent,
      compression,
      lingerMs: p.lingerMs ?? 0,
      batchMaxMessages: p.batchMaxMessages ?? 10_000,
      batchMaxBytes: p.batchMaxBytes ?? 1_000_000,
      retries: p.retries ?? 5,
      retryBackoffMs: p.retryBackoffMs ?? 200,
      timeoutMs: p.timeoutMs ?? 30_000,
      autocreateTopics: p.autocreateTopics ?? true,
    },
    consumer: {
      sessionTimeoutMs,
      heartbeatIntervalMs,
      rebalanceTimeoutMs,
      maxWaitMs: c.maxWaitMs ?? 500,
      maxBytesPerPartition: c.maxBytesPerPartition ?? 1024 * 1024,
      maxBufferedMessages: c.maxBufferedMessages ?? 1_000,
      redeliveryDelayMs: c.redeliveryDelayMs ?? 0,
      drainTimeoutMs: c.drainTimeoutMs ?? 30_000,
      commitIntervalMs: c.commitIntervalMs ?? 100,
      topicRefreshMs: c.topicRefreshMs ?? 5_000,
    },
    topics,
    ssl: tls === true ? { rejectUnauthorized: true } : tls === false || tls === undefined ? undefined : nodeTlsOptions(tls),
    sasl: options.sasl,
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
  };
}

/** Connection settings every @platformatic/kafka client of the transport shares. */
export function baseClientOptions(o: ResolvedKafkaOptions, role: string) {
  return {
    clientId: `${o.clientId}-${role}`,
    bootstrapBrokers: o.brokers,
    connectTimeout: o.connectTimeoutMs,
    requestTimeout: o.requestTimeoutMs,
    timeout: o.requestTimeoutMs,
    ...(o.ssl ? { tls: o.ssl } : {}),
    ...(o.sasl ? { sasl: o.sasl } : {}),
  };
}
