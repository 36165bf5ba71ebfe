import { createHash } from 'node:crypto';
import type { AsyncMessage, Envelope } from 'rabbitmq-client';
import { newMessageId } from '../../core/id.ts';
import type { Message, NormalizedMessage } from '../../core/message.ts';
import { DEATH_HEADERS, deathsSinceRedelivery, DELIVERY_COUNT, type Death } from './dead-letters.ts';

/**
 * Switchyard message ⇄ AMQP message.
 *
 * - topic → routing key on the shared topic exchange (or the route's exchange and key);
 * - id → `message-id` property; an id over 255 UTF-8 bytes (AMQP's short-string limit, which the
 *   client would silently cut) travels whole in `x-switchyard-id`, and `message-id` carries a
 *   distinct form of at most 255 bytes (`fitName`) for other clients;
 * - timestamp → `timestamp` property (seconds, for other clients) and `x-switchyard-ts`
 *   (milliseconds);
 * - key, attempt and the original topic of a redelivered message travel in `x-switchyard-*`
 *   headers, which handlers never see: `Message.headers` is exactly what was published. Nor do
 *   they see a quorum queue's `x-delivery-count`, or a retry queue's dead-letter headers
 *   (`dead-letters.ts`); RabbitMQ's own dead-lettering they do see.
 * - a header named `__proto__` travels as `x-switchyard-h-__proto__`: rabbitmq-client decodes
 *   header tables by plain assignment, which would drop it.
 * - payload → body, byte for byte; delivery mode 2 (persistent).
 */

/** Headers starting with this are Switchyard's own; publishing such a header is a ConfigError. */
export const INTERNAL_PREFIX = 'x-switchyard-';
const KEY = 'x-switchyard-key';
const ATTEMPT = 'x-switchyard-attempt';
const TIMESTAMP = 'x-switchyard-ts';
const TOPIC = 'x-switchyard-topic';
/** The whole id, when it is longer than `message-id` can hold. */
const ID = 'x-switchyard-id';
/**
 * A header saved under our prefix: a broker-owned one across one of our redeliveries
 * (`x-switchyard-h-x-death`), or a user header the client could not decode under its own name
 * (`x-switchyard-h-__proto__`).
 */
const SAVED = 'x-switchyard-h-';
/** The one header name plain assignment cannot create (it sets the prototype instead). */
const PROTO = '__proto__';

/** Switchyard's own header names, for code that sizes what mapping.ts writes. */
export const HEADER_NAMES = { key: KEY, attempt: ATTEMPT, timestamp: TIMESTAMP, topic: TOPIC, id: ID, saved: SAVED } as const;

/** Longest AMQP short string (`message-id`, header names), in bytes. */
export const MAX_SHORT_STRING_BYTES = 255;

/** No retry queues known: the fallback of `fromDelivery`. */
const NO_QUEUES: ReadonlySet<string> = new Set();

/**
 * A subscription pattern → an AMQP topic binding key. `*` stays `*` (one word); `>` (one or more
 * tokens) becomes `*.#` because AMQP's `#` also matches zero words.
 */
export function bindingKey(pattern: string): string {
  return pattern
    .split('.')
    .map((token) => (token === '>' ? '*.#' : token))
    .join('.');
}

const MAX_NAME_BYTES = MAX_SHORT_STRING_BYTES;

/** Shortens a name to 255 bytes, keeping it unique with a hash of the whole. */
export function fitName(name: string): string {
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 16);
  let head = name.slice(0, MAX_NAME_BYTES - 17);
  while (Buffer.byteLength(head) > MAX_NAME_BYTES - 17) head = head.slice(0, -1);
  return `${head}~${hash}`;
}

/**
 * True if `id` does not fit AMQP's `message-id` (255 UTF-8 bytes). A UTF-16 unit is at most 3
 * UTF-8 bytes, so ids of up to 85 characters (UUIDs, ULIDs…) are answered without measuring.
 */
export function isLongId(id: string): boolean {
  return id.length > MAX_SHORT_STRING_BYTES / 3 && Buffer.byteLength(id) > MAX_SHORT_STRING_BYTES;
}

/** Sets `headers[name]` as an own property, also for `__proto__` (which assignment would not create). */
function setHeader(headers: Record<string, string>, name: string, value: string): void {
  if (name === PROTO) Object.defineProperty(headers, name, { value, writable: true, enumerable: true, configurable: true });
  else headers[name] = value;
}

/** The default queue of a group: `<topic>.<group>` (a pattern keeps its `*` and `>`). */
export function defaultQueueName(topic: string, group: string): string {
  return fitName(`${topic}.${group}`);
}

/** The queue where failed messages wait `delayMs` before going back to `queue`. */
export function retryQueueName(queue: string, delayMs: number): string {
  return fitName(`${queue}.retry.${delayMs}`);
}

/** Which of `delaysMs` applies after attempt `attempt` failed (the last one repeats). */
export function retryDelay(delaysMs: readonly number[], attempt: number): number {
  if (delaysMs.length === 0) return 0;
  return delaysMs[Math.min(attempt, delaysMs.length) - 1]!;
}

/** Problems with user headers under AMQP's rules and our reserved prefix. */
export function headerProblems(where: string, headers: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase().startsWith(INTERNAL_PREFIX)) problems.push(`${where}: header "${name}" uses the prefix "${INTERNAL_PREFIX}", which Switchyard reserves for its own headers`);
    else if (name === DELIVERY_COUNT) problems.push(`${where}: header "${name}" is RabbitMQ's own (quorum queues write their redelivery count over it) and is removed from delivered messages, so no handler would see it; send it under another name`);
    else if (Buffer.byteLength(name) > MAX_SHORT_STRING_BYTES) problems.push(`${where}: header name "${name.slice(0, 30)}…" is longer than 255 bytes (AMQP's limit)`);
  }
  return problems;
}

/** Bytes as a Buffer without copying (rabbitmq-client JSON-encodes anything that is not a Buffer). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The AMQP envelope of one outgoing message. */
export function toEnvelope(m: NormalizedMessage, exchange: string, routingKey: string, mandatory: boolean): Envelope {
  const headers: Record<string, unknown> = { ...m.headers, [TIMESTAMP]: String(m.timestamp) };
  if (m.key !== '') headers[KEY] = m.key;
  if (Object.hasOwn(m.headers, PROTO)) {
    // Own property from the spread; sent under our prefix so the receiver's client keeps it.
    headers[SAVED + PROTO] = m.headers[PROTO];
    delete headers[PROTO];
  }
  let messageId = m.id;
  if (isLongId(m.id)) {
    headers[ID] = m.id;
    messageId = fitName(m.id);
  }
  return {
    exchange,
    routingKey,
    mandatory,
    durable: true,
    messageId,
    timestamp: Math.floor(m.timestamp / 1000),
    headers,
  };
}

/**
 * The Switchyard id of a delivered or returned message: `x-switchyard-id` when the id was too long
 * for `message-id`, else `message-id` (undefined if the publisher set neither).
 */
export function wireId(msg: Pick<AsyncMessage, 'headers' | 'messageId'>): string | undefined {
  const whole = (msg.headers as Record<string, unknown> | undefined)?.[ID];
  return typeof whole === 'string' ? whole : msg.messageId;
}

/** A header value from any AMQP client as a string: numbers and booleans as text, tables and arrays as JSON. */
export function headerText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return Buffer.from((v as { data: number[] }).data).toString('utf8');
    }
    return v;
  });
}

/**
 * The body as bytes. Consumers keep rabbitmq-client from decoding bodies (`raw-body.ts`), so a
 * delivery's body is always a Buffer; the conversions are the fallback if the client ever hands
 * over a string (`text/plain`) or a parsed value (`application/json`) anyway.
 */
export function bodyBytes(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return asBuffer(body);
  return Buffer.from(JSON.stringify(body) ?? '', 'utf8');
}

/**
 * A delivery as the handler sees it. `fallbackTopic` is used when the delivery does not name one;
 * `retryQueues` are the retry queues of the queue being read (`dead-letters.ts`).
 */
export function fromDelivery(
  msg: Pick<AsyncMessage, 'headers' | 'messageId' | 'timestamp' | 'routingKey' | 'body' | 'contentType'>,
  fallbackTopic?: string,
  retryQueues: ReadonlySet<string> = NO_QUEUES,
): Message {
  const raw = (msg.headers ?? {}) as Record<string, unknown>;
  const redelivered = raw[ATTEMPT] !== undefined;
  // Dead-lettered by the broker after one of our redeliveries: a new arrival in another queue.
  // Checked only for messages that have both headers, never on the common path.
  const since = redelivered && raw['x-death'] !== undefined ? deathsSinceRedelivery(raw['x-death'], retryQueues) : undefined;
  const deadLettered = since !== undefined && since.length > 0;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(SAVED)) {
      // Saved death headers are replaced by the merged ones below.
      if (!deadLettered || !DEATH_HEADERS.has(name.slice(SAVED.length))) setHeader(headers, name.slice(SAVED.length), headerText(value));
    } else if (name.startsWith(INTERNAL_PREFIX) || name === DELIVERY_COUNT) continue;
    // After one of our redeliveries, the broker's death headers are the retry queue's, or mix its
    // death with real ones: the saved headers count, or the merged ones below.
    else if (redelivered && DEATH_HEADERS.has(name)) continue;
    // hasOwn, not `in`: a header named `constructor` or `toString` is not already there.
    else if (!Object.hasOwn(headers, name)) headers[name] = headerText(value);
  }
  if (deadLettered) Object.assign(headers, deathHeaders(raw, since));
  // Another client's content type, where codecs look for it.
  if (msg.contentType && !Object.hasOwn(headers, 'content-type')) headers['content-type'] = msg.contentType;
  const ts = Number(headerText(raw[TIMESTAMP]));
  const attempt = deadLettered ? 1 : Number(headerText(raw[ATTEMPT]));
  return {
    topic: raw[TOPIC] !== undefined && !deadLettered ? headerText(raw[TOPIC]) : (fallbackTopic ?? msg.routingKey),
    id: wireId(msg) || newMessageId(),
    key: raw[KEY] !== undefined ? headerText(raw[KEY]) : '',
    payload: bodyBytes(msg.body),
    headers,
    // Another client's timestamp 0 means "not set", as a missing one does: the arrival time then.
    timestamp: Number.isFinite(ts) && ts > 0 ? ts : typeof msg.timestamp === 'number' && msg.timestamp > 0 ? msg.timestamp * 1000 : Date.now(),
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
  };
}

/**
 * The death headers of a message the broker dead-lettered after Switchyard redelivered it, as the
 * broker would have written them had Switchyard not republished it: `x-death` lists the deaths
 * since (`since`, without the retry queue's) and then those saved at the first redelivery;
 * `x-first-death-*` is the saved first death, else the oldest of `since`; `x-last-death-*`, where
 * the broker writes it, is the newest, which is real.
 */
function deathHeaders(raw: Record<string, unknown>, since: readonly Death[]): Record<string, string> {
  const earlier = savedDeaths(raw[SAVED + 'x-death']);
  const out: Record<string, string> = { 'x-death': headerText([...since, ...earlier]) };
  const first = since[since.length - 1]!;
  const savedFirst = raw[SAVED + 'x-first-death-reason'] !== undefined;
  for (const field of ['reason', 'queue', 'exchange']) {
    out[`x-first-death-${field}`] = headerText(savedFirst ? raw[`${SAVED}x-first-death-${field}`] : first[field]);
    const last = raw[`x-last-death-${field}`];
    if (last !== undefined) out[`x-last-death-${field}`] = headerText(last);
  }
  return out;
}

/** The `x-death` entries saved at a first redelivery (JSON text), or none if there are none or they do not parse. */
function savedDeaths(saved: unknown): unknown[] {
  if (saved === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(headerText(saved));
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return [];
  }
}

/**
 * The envelope that puts a failed message back into `queue` (directly, or through its retry
 * queue) with `attempt + 1`, keeping its id, key, timestamp, topic, headers and body. The
 * dead-letter headers it keeps are those the handler saw (`message.headers`), under our prefix;
 * the broker's own (`x-death`, `x-delivery-count`) stay behind.
 */
export function redeliveryEnvelope(msg: Pick<AsyncMessage, 'headers' | 'contentType' | 'contentEncoding' | 'correlationId' | 'replyTo' | 'type' | 'appId' | 'priority'>, message: Message, targetQueue: string): Envelope {
  const raw = (msg.headers ?? {}) as Record<string, unknown>;
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(INTERNAL_PREFIX)) {
      if (name.startsWith(SAVED) && !DEATH_HEADERS.has(name.slice(SAVED.length))) headers[name] = value;
    } else if (!DEATH_HEADERS.has(name) && name !== DELIVERY_COUNT) headers[name] = value;
  }
  // Under our prefix, so the retry queue's own dead-lettering does not mix with them.
  for (const name of DEATH_HEADERS) if (Object.hasOwn(message.headers, name)) headers[SAVED + name] = message.headers[name];
  headers[ATTEMPT] = String(message.attempt + 1);
  headers[TOPIC] = message.topic;
  headers[TIMESTAMP] = String(message.timestamp);
  if (message.key !== '') headers[KEY] = message.key;
  let messageId = message.id;
  if (isLongId(message.id)) {
    headers[ID] = message.id;
    messageId = fitName(message.id);
  }
  const envelope: Envelope = {
    exchange: '',
    routingKey: targetQueue,
    mandatory: true,
    durable: true,
    messageId,
    timestamp: Math.floor(message.timestamp / 1000),
    headers,
  };
  for (const field of ['contentType', 'contentEncoding', 'correlationId', 'replyTo', 'type', 'appId', 'priority'] as const) {
    if (msg[field] !== undefined) (envelope as Record<string, unknown>)[field] = msg[field];
  }
  return envelope;
}
