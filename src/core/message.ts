import { ConfigError } from './errors.ts';
import { newMessageId } from './id.ts';
import { topicProblems } from './topic.ts';

/** A message as the application hands it to `publish`. */
export interface OutgoingMessage {
  /** Unique id; a time-ordered one (UUIDv7) is generated when absent. Downstream dedup keys on it. */
  id?: string;
  /** Ordering and partitioning key (a business key: customerId, orderId). Same key, same order. */
  key?: string;
  /** The bytes. Codecs turn values into bytes and back. */
  payload: Uint8Array;
  /** String headers, carried by every transport. */
  headers?: Record<string, string>;
  /**
   * When the event happened, in whole milliseconds since epoch; default: the time of `publish`.
   * Set it when republishing a message (a bridge, a dead letter, a replay) so consumers see the
   * original time, not the forwarding time. Every transport delivers it to the millisecond (but
   * see the Kafka known issue in docs/transports.md).
   */
  timestamp?: number;
}

/**
 * A message as a handler receives it. Treat `payload` as read-only: in-process transports (memory,
 * embedded) may hand every group the same bytes, so a handler that changes them in place changes them
 * for the others too — copy first (`payload.slice()`).
 */
export interface Message extends Required<OutgoingMessage> {
  topic: string;
  /** Milliseconds since epoch: the publisher's `timestamp`, or the time of publish when it gave none. */
  timestamp: number;
  /** 1 on first delivery; grows by one on each redelivery. */
  attempt: number;
  /** Where the transport has them (Kafka, embedded). */
  partition?: number;
  /** Offset within the partition, as a decimal string (Kafka offsets exceed 2^53). */
  offset?: string;
}

/** A message ready to be written: every field present, validated. */
export interface NormalizedMessage {
  id: string;
  key: string;
  payload: Uint8Array;
  headers: Record<string, string>;
  timestamp: number;
}

/**
 * Validates what `publish` was given and fills in defaults, reporting every problem at once.
 * Transports call this first, so bad input fails before anything is sent.
 */
export function normalizeOutgoing(topic: string, input: OutgoingMessage | readonly OutgoingMessage[]): NormalizedMessage[] {
  const list = Array.isArray(input) ? input : [input as OutgoingMessage];
  const problems = topicProblems(topic);
  const now = Date.now();
  const out: NormalizedMessage[] = [];
  // A plain loop with no per-message closures or strings unless something is wrong: this runs once
  // per published message.
  for (let i = 0; i < list.length; i++) {
    if (!(i in list)) continue; // a hole in a sparse array, as forEach skipped it
    const m = list[i] as OutgoingMessage;
    if (typeof m !== 'object' || m === null) {
      problems.push(`${where(topic, list.length, i)}: expected a message object, got ${m === null ? 'null' : typeof m}`);
      continue;
    }
    if (!(m.payload instanceof Uint8Array)) {
      problems.push(`${where(topic, list.length, i)}: payload must be a Uint8Array (use a codec such as json() to turn values into bytes), got ${describe(m.payload)}`);
    }
    if (m.id !== undefined && (typeof m.id !== 'string' || m.id === '')) problems.push(`${where(topic, list.length, i)}: id must be a non-empty string`);
    if (m.key !== undefined && typeof m.key !== 'string') problems.push(`${where(topic, list.length, i)}: key must be a string, got ${describe(m.key)}`);
    let headers: Record<string, string> = {};
    if (m.headers !== undefined) {
      // Copied, so later changes by the caller do not reach the message; checked only when given.
      headers = { ...m.headers };
      for (const name in headers) {
        if (!Object.hasOwn(headers, name)) continue;
        const value: unknown = headers[name];
        if (typeof value !== 'string') problems.push(`${where(topic, list.length, i)}: header "${name}" must be a string, got ${describe(value)}`);
      }
    }
    if (m.timestamp !== undefined && !isValidTimestamp(m.timestamp)) {
      problems.push(`${where(topic, list.length, i)}: timestamp must be a whole number of milliseconds since epoch, from 1 to ${MAX_TIMESTAMP}, got ${describeTimestamp(m.timestamp)}`);
    }
    // The id stays time-ordered by publish (not event) time: ids of one producer sort in publish order.
    out.push({ id: m.id ?? newMessageId(now), key: m.key ?? '', payload: m.payload, headers, timestamp: m.timestamp ?? now });
  }
  ConfigError.throwIfAny(problems);
  return out;
}

/** The latest time a `Date` can hold (year 275760): beyond it a timestamp is no time at all. */
const MAX_TIMESTAMP = 8_640_000_000_000_000;

/**
 * True for a value `publish` accepts as `timestamp`: whole milliseconds since epoch, from 1 up to
 * the latest time a `Date` holds. For code that republishes a received message, whose timestamp
 * another producer may have left unset (Kafka's -1) or odd.
 */
export function isValidTimestamp(value: unknown): value is number {
  // Whole milliseconds: Kafka carries a 64-bit integer, so a fraction could not reach consumers.
  // Zero is refused too: RabbitMQ (and most clients) read a timestamp of 0 as "not set".
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_TIMESTAMP;
}

function describeTimestamp(value: unknown): string {
  if (value instanceof Date) return 'a Date (pass date.getTime())';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'bigint') return `${value}n (a bigint; pass a number)`;
  return describe(value);
}

function where(topic: string, count: number, i: number): string {
  return count === 1 ? `publish to "${topic}"` : `publish to "${topic}", message ${i}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
