import { ConfigError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { MESSAGE_ID_HEADER } from './mapping.ts';

/**
 * How large a message is as the broker measures it. Kafka compares each record batch it is sent
 * — framing included — with `message.max.bytes` (1,048,588 by default: 1 MiB plus the 12-byte log
 * overhead), or the topic's `max.message.bytes`, and refuses a larger one whole
 * (MESSAGE_TOO_LARGE). The transport's `maxPayloadBytes` and `maxHeaderBytes` bound parts of a
 * message separately, so a payload near its limit plus large headers and key passes both and is
 * still refused; `checkRecordSizes` closes that gap before anything is sent.
 */

/** Kafka's default `message.max.bytes`: what one record batch may take. */
export const KAFKA_DEFAULT_MAX_RECORD_BYTES = 1_048_588;

/**
 * Default `maxPayloadBytes`, 48,588 bytes below the broker's default limit: room for a key,
 * headers and framing. A raised `maxPayloadBytes` keeps that much room in the derived
 * `maxRecordBytes` (see `defaultMaxRecordBytes`).
 */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1_000_000;

/**
 * A record batch's fixed header in format v2 (base offset 8, length 4, leader epoch 4, magic 1,
 * CRC 4, attributes 2, last offset delta 4, first and max timestamp 8 + 8, producer id 8,
 * producer epoch 2, base sequence 4, record count 4).
 */
export const BATCH_HEADER_BYTES = 61;

const ID_NAME_BYTES = Buffer.byteLength(MESSAGE_ID_HEADER);

/**
 * `maxRecordBytes` when not given: the broker's default limit, or — when `maxPayloadBytes` was
 * raised past its default, which says the broker's limit was raised too — the raised payload
 * plus the same room for key, headers and framing the defaults leave.
 */
export function defaultMaxRecordBytes(maxPayloadBytes: number): number {
  return Math.max(KAFKA_DEFAULT_MAX_RECORD_BYTES, maxPayloadBytes + (KAFKA_DEFAULT_MAX_RECORD_BYTES - DEFAULT_MAX_PAYLOAD_BYTES));
}

/** Bytes of a zigzag varint, as the record format writes lengths and deltas. */
function varintBytes(n: number): number {
  const z = n >= 0 ? n * 2 : -n * 2 - 1;
  if (z < 0x80) return 1;
  if (z < 0x4000) return 2;
  if (z < 0x20_0000) return 3;
  if (z < 0x1000_0000) return 4;
  return 5;
}

/** Where a record batch's bytes go, for the error that names them. */
export interface RecordSize {
  /** The whole batch, as the broker compares it with `message.max.bytes`. */
  total: number;
  payload: number;
  /** The key's UTF-8 bytes (an empty key is sent as a null key: 0). */
  key: number;
  /** Application headers: names and values, UTF-8. */
  headers: number;
  /** The `x-message-id` header carrying the message id: name and value. */
  idHeader: number;
  /** Batch header, record length, attributes, deltas and every length prefix. */
  framing: number;
}

/**
 * The size of the record batch that holds `m` alone, exactly as the transport encodes it
 * (`toRecord`, uncompressed): what the broker measures when `m` is sent in a request of its own,
 * which is how the producer sends any message larger than `producer.batchMaxBytes`.
 */
export function recordBatchSize(m: NormalizedMessage): RecordSize {
  const key = m.key === '' ? 0 : Buffer.byteLength(m.key);
  const payload = m.payload.byteLength;
  const id = Buffer.byteLength(m.id);
  let headers = 0;
  let headerPrefixes = 0;
  let count = 1;
  for (const name in m.headers) {
    if (!Object.hasOwn(m.headers, name)) continue;
    const n = Buffer.byteLength(name);
    const v = Buffer.byteLength(m.headers[name]!);
    headers += n + v;
    headerPrefixes += varintBytes(n) + varintBytes(v);
    count++;
  }
  // Attributes (1), timestamp delta and offset delta (0 for the batch's only record: 1 each).
  let prefixes = 3;
  prefixes += m.key === '' ? varintBytes(-1) : varintBytes(key);
  prefixes += varintBytes(payload) + varintBytes(count) + varintBytes(ID_NAME_BYTES) + varintBytes(id) + headerPrefixes;
  const idHeader = ID_NAME_BYTES + id;
  const body = prefixes + key + payload + idHeader + headers;
  const total = BATCH_HEADER_BYTES + varintBytes(body) + body;
  return { total, payload, key, headers, idHeader, framing: total - payload - key - headers - idHeader };
}

/**
 * Most framing a record batch of one message adds, per header beyond that: length prefixes of
 * at most 5 bytes each, the batch header and the record's fixed fields.
 */
const MAX_FIXED_FRAMING = BATCH_HEADER_BYTES + 5 * 6 + 3 + ID_NAME_BYTES;

/**
 * Throws one ConfigError naming every message of `batch` whose record batch would exceed
 * `maxRecordBytes` (its size, what it is made of, the limit, what to raise), before anything of
 * the batch is sent. `maxHeaderBytes` (already checked) bounds the headers, so most messages are
 * cleared by a bound costing a few additions; only those near the limit are measured.
 */
export function checkRecordSizes(topic: string, batch: readonly NormalizedMessage[], maxRecordBytes: number, maxHeaderBytes: number): void {
  // Headers have distinct names, at most one of them empty: at most maxHeaderBytes + 1 of them,
  // each with two length prefixes of at most 5 bytes.
  const headerBound = maxHeaderBytes + 10 * (maxHeaderBytes + 1);
  let problems: string[] | undefined;
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i]!;
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (MAX_FIXED_FRAMING + m.payload.byteLength + 3 * (m.key.length + m.id.length) + headerBound <= maxRecordBytes) continue;
    const size = recordBatchSize(m);
    if (size.total <= maxRecordBytes) continue;
    (problems ??= []).push(
      `kafka: publish to "${topic}"${batch.length > 1 ? `, message ${i}` : ''} (id ${m.id}): the message makes a record batch of ${size.total} bytes ` +
        `(payload ${size.payload}, key ${size.key}, headers ${size.headers}, ${MESSAGE_ID_HEADER} header ${size.idHeader}, framing ${size.framing}), ` +
        `over the limit of ${maxRecordBytes} bytes (maxRecordBytes) that the broker's message.max.bytes (1,048,588 unless raised) and the topic's ` +
        `max.message.bytes also enforce; send a smaller payload, key or headers (store large payloads elsewhere and send a reference), ` +
        `or raise message.max.bytes on the brokers (or max.message.bytes on the topic) and the transport's maxRecordBytes option with them`,
    );
  }
  if (problems) ConfigError.throwIfAny(problems);
}
