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

/** The record @platformatic/kafka sends for one message (`key: ''` is sent as a null key). */
export function toRecord(topic: string, m: NormalizedMessage): MessageToProduce<Buffer, Buffer, Buffer, Buffer> {
  const headers = new Map<Buffer, Buffer>();
  headers.set(ID_HEADER_BYTES, Buffer.from(m.id));
  for (const name in m.headers) headers.set(nameBytes(name), Buffer.from(m.headers[name]!));
  const record: MessageToProduce<Buffer, Buffer, Buffer, Buffer> = {
    topic,
    value: Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength),
    headers,
    timestamp: BigInt(m.timestamp),
  };
  if (m.key !== '') record.key = Buffer.from(m.key);
  return record;
}

function text(b: Buffer | null | undefined): string {
  return b ? b.toString('utf8') : '';
}

/** The message a handler sees for a consumed record. */
export function fromRecord(record: KafkaRecord<Buffer, Buffer, Buffer, Buffer>, attempt: number): Message {
  let id: string | undefined;
  const headers: Record<string, string> = {};
  for (const [name, value] of record.headerEntries) {
    if (name && name.equals(ID_HEADER_BYTES)) {
      id = text(value);
      continue;
    }
    const n = text(name);
    headers[n] = text(value);
  }
  const value = record.value;
  return {
    id: id ?? `${record.topic}/${record.partition}/${record.offset}`,
    topic: record.topic,
    key: text(record.key),
    payload: value ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength) : new Uint8Array(0),
    headers,
    timestamp: Number(record.timestamp),
    attempt,
    partition: record.partition,
    offset: record.offset.toString(),
  };
}
