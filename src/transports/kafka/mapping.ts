import type { Message as KafkaRecord, MessageToProduce } from '@platformatic/kafka';
import type { Message, NormalizedMessage } from '../../core/message.ts';

/**
 * Kafka record ⇄ Switchyard message. The message id travels in the `x-message-id` header, which
 * is stripped on the way in, so `Message.headers` equals what was published. Records from other
 * producers without that header get a stable id from where they sit: `topic/partition/offset`.
 */

/** Header that carries `Message.id`. Reserved: publishing a header with this name is a ConfigError. */
export const MESSAGE_ID_HEADER = 'x-message-id';

const ID_HEADER_BYTES = Buffer.from(MESSAGE_ID_HEADER);
const EMPTY = Buffer.alloc(0);
/** Header names repeat from message to message: encode each once. */
const names = new Map<string, Buffer>();
function nameBytes(name: string): Buffer {
  let b = names.get(name);
  if (!b) {
    b = Buffer.from(name);
    if (names.size < 1_000) names.set(name, b);
  }
  return b;
}

/** Timestamps repeat within a batch (one `Date.now()` per publish): convert each to a bigint once. */
let lastTimestamp = Number.NaN;
let lastTimestampBig = 0n;
function timestampBig(ms: number): bigint {
  if (ms !== lastTimestamp) {
    lastTimestampBig = BigInt(ms);
    lastTimestamp = ms;
  }
  return lastTimestampBig;
}

/**
 * Consumed timestamps repeat within a batch (producers stamp a batch in one millisecond): convert
 * each distinct one to a number once (`Number(bigint)` costs about as much as the rest of a field).
 */
let lastConsumedBig = -1n;
let lastConsumed = -1;
function timestampNumber(ms: bigint): number {
  if (ms !== lastConsumedBig) {
    lastConsumed = Number(ms);
    lastConsumedBig = ms;
  }
  return lastConsumed;
}

/** The record @platformatic/kafka sends for one message (`key: ''` is sent as a null key). */
export function toRecord(topic: string, m: NormalizedMessage): MessageToProduce<Buffer, Buffer, Buffer, Buffer> {
  const headers = new Map<Buffer, Buffer>();
  headers.set(ID_HEADER_BYTES, Buffer.from(m.id));
  for (const name in m.headers) headers.set(nameBytes(name), Buffer.from(m.headers[name]!));
  const payload = m.payload;
  const record: MessageToProduce<Buffer, Buffer, Buffer, Buffer> = {
    topic,
    // A Buffer payload goes as is (the client only reads it); other Uint8Arrays get a Buffer view.
    value: Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    headers,
    timestamp: timestampBig(m.timestamp),
  };
  if (m.key !== '') record.key = Buffer.from(m.key);
  return record;
}

/**
 * Longest text decoded in JavaScript. Keys and header names are mostly short ASCII; decoding
 * them byte by byte costs about 10 ns a character, while `Buffer#toString` costs about 150 ns a
 * call whatever the length (the call into C++), so it takes over above this.
 */
const SHORT_TEXT = 12;

/** UTF-8 text of a key or header. */
export function text(b: Buffer | null | undefined): string {
  if (!b) return '';
  const n = b.length;
  if (n > SHORT_TEXT) return b.toString();
  let s = '';
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (c > 0x7f) return b.toString(); // not ASCII: UTF-8 decoding
    s += String.fromCharCode(c);
  }
  return s;
}

/** Whether a header name is `x-message-id`: 12 bytes compared here cost less than a `Buffer#equals` call per record. */
function isIdHeader(name: Buffer | null | undefined): boolean {
  if (!name || name.length !== ID_HEADER_BYTES.length) return false;
  for (let i = 0; i < name.length; i++) if (name[i] !== ID_HEADER_BYTES[i]) return false;
  return true;
}

/**
 * The message a handler sees for a consumed record. `key` and `offset` are the record's key and
 * offset already decoded (the consumer decodes them once for per-key ordering and commits; a
 * number holds every offset a partition reaches, below 2^53).
 */
export function fromRecord(
  record: KafkaRecord<Buffer, Buffer, Buffer, Buffer>,
  attempt: number,
  key: string = text(record.key),
  offsetNumber: number = Number(record.offset),
): Message {
  let id: string | undefined;
  const headers: Record<string, string> = {};
  const entries = record.headerEntries;
  for (let i = 0; i < entries.length; i++) {
    const [name, value] = entries[i]!;
    if (isIdHeader(name)) id = text(value);
    else {
      const key = text(name);
      // Assigning `__proto__` would call the prototype setter and lose the header; every other
      // name (`constructor` too) becomes an own property by assignment, the fast path.
      if (key === '__proto__') Object.defineProperty(headers, key, { value: text(value), writable: true, enumerable: true, configurable: true });
      else headers[key] = text(value);
    }
  }
  const value = record.value;
  const offset = String(offsetNumber); // a bigint's toString costs twice a number's
  return {
    id: id ?? `${record.topic}/${record.partition}/${offset}`,
    topic: record.topic,
    key,
    // The client's Buffer as it is (a Uint8Array, as the RabbitMQ adapter hands out too): a view of
    // the same bytes would cost an object per record.
    payload: value ?? EMPTY,
    headers,
    timestamp: timestampNumber(record.timestamp),
    attempt,
    partition: record.partition,
    offset,
  };
}
