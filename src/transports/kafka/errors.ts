import { ConfigError, isTimeoutError, TransportError, type SwitchyardError } from '../../core/errors.ts';
import { tlsError } from '../../internal/transport-tls.ts';

/** Kafka protocol errors that mean the request itself is wrong: retrying cannot help. */
const PERMANENT_API_ERRORS = new Set([
  'INVALID_TOPIC_EXCEPTION',
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_REQUIRED_ACKS',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_VERSION',
  'UNSUPPORTED_COMPRESSION_TYPE',
  'INVALID_CONFIG',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'POLICY_VIOLATION',
]);

/** What retryable broker-side errors mean for whoever runs the cluster, and what to do. */
const BROKER_TROUBLE: Readonly<Record<string, string>> = {
  KAFKA_STORAGE_ERROR:
    "the broker could not write to the partition's log directory (a full or failed disk on the broker: Kafka takes that log directory offline); free space or replace the disk, then restart the broker or move the partition's replicas",
  NOT_ENOUGH_REPLICAS: "fewer in-sync replicas than the topic's min.insync.replicas: bring the missing brokers back (acks=all refuses the write until then)",
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: "the write was stored but fewer in-sync replicas than min.insync.replicas had it: it may be stored; bring the missing brokers back",
};

/**
 * What a broker's size refusal means and what to do. The transport checks each message against
 * `maxRecordBytes` before sending, so the broker refusing means its limit is lower than the
 * transport's settings let through, or a request merged several messages into one batch.
 */
const TOO_LARGE: Readonly<Record<string, string>> = {
  MESSAGE_TOO_LARGE:
    "the broker refused a record batch larger than its message.max.bytes (or the topic's max.message.bytes). " +
    "Set the transport's maxRecordBytes (default 1,048,588, Kafka's default) to that limit so a message too large for it is refused before sending, " +
    'and producer.batchMaxBytes (default 1,000,000) below it, as it bounds the batch several merged messages make; ' +
    'or raise message.max.bytes on the brokers (max.message.bytes on the topic) to what you send',
  RECORD_LIST_TOO_LARGE:
    "the broker refused a record batch larger than the topic's log segment (segment.bytes, the brokers' log.segment.bytes): " +
    'raise segment.bytes on the topic, or lower producer.batchMaxBytes and send smaller messages',
};

/** What to do about a topic the cluster does not have and would not create on first use. */
const UNKNOWN_TOPIC =
  "the cluster has no such topic and did not create it: check the name, create the topic (or declare it in the transport's topics option), " +
  "or let it be created on first use (producer.autocreateTopics: true, the default, and the brokers' auto.create.topics.enable)";

interface PlatformaticErrorShape {
  code?: string;
  apiId?: string;
  canRetry?: boolean;
  errors?: unknown[];
  message?: string;
}

/** The Kafka protocol error ids (`NOT_LEADER_OR_FOLLOWER`, …) found anywhere in a client error. */
export function kafkaErrorIds(error: unknown, seen = new Set<unknown>()): string[] {
  if (typeof error !== 'object' || error === null || seen.has(error)) return [];
  seen.add(error);
  const e = error as PlatformaticErrorShape & { cause?: unknown };
  const ids = typeof e.apiId === 'string' ? [e.apiId] : [];
  for (const inner of e.errors ?? []) ids.push(...kafkaErrorIds(inner, seen));
  ids.push(...kafkaErrorIds(e.cause, seen));
  return ids;
}

/** Messages of the errors nested in a client error (MultipleErrors/AggregateError), innermost last. */
function nestedMessages(error: unknown, seen = new Set<unknown>()): string[] {
  if (typeof error !== 'object' || error === null || seen.has(error)) return [];
  seen.add(error);
  const e = error as { errors?: unknown[]; cause?: unknown };
  const out: string[] = [];
  for (const inner of e.errors ?? []) {
    if (inner instanceof Error) out.push(inner.message);
    out.push(...nestedMessages(inner, seen));
  }
  if (e.cause instanceof Error) out.push(e.cause.message, ...nestedMessages(e.cause, seen));
  return out;
}

/**
 * Turns an error from @platformatic/kafka into a Switchyard error naming what was attempted:
 * ConfigError for mistakes retrying cannot fix (authorization, invalid topic, too large),
 * otherwise a TransportError (`retryable` unless the broker said otherwise).
 */
export function toKafkaError(what: string, error: unknown): SwitchyardError {
  if (typeof error === 'object' && error !== null && typeof (error as { code?: unknown }).code === 'string') {
    const code = (error as { code: string }).code;
    if (['CONFIG', 'TRANSPORT', 'CLOSED'].includes(code)) return error as SwitchyardError;
  }
  // A certificate the client refused: say which check failed and what to do, and do not retry.
  const tls = tlsError(what, error, 'tls');
  if (tls) return tls;
  if (isTimeoutError(error)) {
    // withTimeout names what timed out, usually `what` itself: say it once.
    const text = error.message.startsWith(what) ? error.message : `${what}: ${error.message}`;
    return new TransportError(text, { cause: error, retryable: true });
  }
  const ids = kafkaErrorIds(error);
  const inner = [...new Set(nestedMessages(error))].filter((m) => m.length > 0).slice(0, 3);
  const message = (error instanceof Error ? error.message : String(error)) + (inner.length > 0 ? ` (${inner.join('; ')})` : '');
  const detail = ids.length > 0 ? `${message} [${[...new Set(ids)].join(', ')}]` : message;
  const code = (error as PlatformaticErrorShape | null)?.code;
  if (code === 'PLT_KFK_USER') {
    // The client's words for a topic the cluster does not have, which it will not create.
    const advice = /^Unknown topic /.test(message) ? ` — ${UNKNOWN_TOPIC}` : '';
    return new ConfigError(`${what}: ${detail}${advice}`, { cause: error });
  }
  if (code === 'PLT_KFK_AUTHENTICATION' || ids.includes('SASL_AUTHENTICATION_FAILED')) {
    return new ConfigError(`${what}: SASL authentication failed (${detail}): the broker refused these credentials; check sasl.mechanism, sasl.username and sasl.password`, {
      cause: error,
    });
  }
  if (inner.some((m) => m.startsWith('Unsupported API'))) {
    return new TransportError(`${what}: ${detail} — the broker does not offer this API (the librdkafka mock cluster has no admin APIs); do it with your Kafka tooling`, {
      cause: error,
      retryable: false,
    });
  }
  const permanent = ids.find((id) => PERMANENT_API_ERRORS.has(id));
  if (permanent) {
    const advice = ids.map((id) => TOO_LARGE[id]).find((h) => h !== undefined);
    return new TransportError(`${what}: ${detail}${advice ? ` — ${advice}` : ''}`, { cause: error, retryable: false });
  }
  const hint = ids.map((id) => BROKER_TROUBLE[id]).find((h) => h !== undefined);
  return new TransportError(`${what}: ${detail}${hint ? ` — ${hint}` : ''}`, { cause: error, retryable: true });
}
