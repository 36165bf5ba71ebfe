import { isValidTimestamp, normalizeOutgoing, type Message, type NormalizedMessage, type OutgoingMessage } from '../../core/message.ts';
import { wireSize } from './max-payload.ts';
import type { ResolvedNatsOptions } from './options.ts';
import type { StatusEmitter } from './status.ts';
import { subjectCovers } from './streams.ts';

/**
 * A message JetStream stops delivering because it reached the consumer's `max_deliver`. Left
 * alone, nobody would hear of it: the server drops it from the group's work without an error or a
 * dead letter. The transport therefore reports every such message (a `max-deliveries` status, or a
 * process warning when no one listens to statuses) and, with `consumers.deadLetterTopic`,
 * publishes a copy there with the dead-letter headers.
 *
 * It learns of them two ways. A handler that failed on the last allowed attempt is caught by its
 * subscription, which knows the error, reports the message and terminates it (`+TERM`, so the
 * server raises no advisory for it). Deliveries that ran out without a failure here — a member
 * that crashed or lost its connection while holding the message, a handler that outlived the ack
 * wait — only the server sees: it publishes the advisory
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>` with the stream sequence, which
 * the group's members subscribe to in one queue group (one of them handles each), reading the
 * message back by sequence.
 */
export interface GaveUp {
  topic: string;
  group: string;
  stream: string;
  streamSequence: number;
  deliveries: number;
  /** The message, when it could be had (the advisory path reads it back from the stream). */
  message: Message | undefined;
  reason: string;
}

/** What reporting needs from the transport. */
export interface GaveUpContext {
  status: StatusEmitter;
  options: ResolvedNatsOptions;
  publish(topic: string, message: OutgoingMessage): Promise<void>;
  /** The server's `max_payload` (payload and headers together), which a dead letter must fit in. */
  maxPayloadBytes(): number;
}

/** The advisory subject of `consumer` on `stream`. */
export function advisorySubject(stream: string, consumer: string): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${consumer}`;
}

/** The queue group the members of a group read the advisory in: one of them handles each. */
export const ADVISORY_QUEUE = 'switchyard-max-deliveries';

/** The stream sequence and delivery count a MAX_DELIVERIES advisory names, or undefined when it is not one. */
export function parseAdvisory(data: Uint8Array): { streamSequence: number; deliveries: number } | undefined {
  try {
    const a = JSON.parse(new TextDecoder().decode(data)) as { stream_seq?: unknown; deliveries?: unknown };
    if (typeof a.stream_seq !== 'number' || a.stream_seq < 1) return undefined;
    return { streamSequence: a.stream_seq, deliveries: typeof a.deliveries === 'number' ? a.deliveries : 0 };
  } catch {
    return undefined;
  }
}

/** Dead-letter headers written by this transport (the same names `deadLetter()` writes). */
const DEAD_LETTER = ['x-error', 'x-error-stack', 'x-original-topic', 'x-original-partition', 'x-original-offset', 'x-original-key', 'x-original-group', 'x-attempts', 'x-failed-at', 'x-handler'];

function deadLetterOf(g: GaveUp, message: Message): OutgoingMessage {
  const headers: Record<string, string> = {};
  // Those of an earlier round (a replayed dead letter failing again) would mislead.
  for (const [k, v] of Object.entries(message.headers)) if (!DEAD_LETTER.includes(k)) headers[k] = v;
  headers['x-error'] = g.reason.length > 1_000 ? `${g.reason.slice(0, 999)}…` : g.reason;
  headers['x-original-topic'] = message.topic;
  headers['x-original-offset'] = String(g.streamSequence);
  if (message.key !== '') headers['x-original-key'] = message.key;
  headers['x-original-group'] = g.group;
  headers['x-attempts'] = String(g.deliveries);
  headers['x-failed-at'] = new Date().toISOString();
  // No key: dead letters of one key must not hold each other back when listed or replayed.
  return { id: message.id, payload: message.payload, headers, timestamp: isValidTimestamp(message.timestamp) ? message.timestamp : undefined };
}

/**
 * `letter` as it can be sent to `topic` within `limit` bytes. The dead-letter headers come on top
 * of a message that itself may have been close to the limit; the error text is the one that can
 * be long and the one a reader can do without in full, so it is shortened (ending in `…`) until
 * the letter fits. `tooLarge` is the smallest size it takes when even that is not enough.
 */
function fitDeadLetter(topic: string, letter: NormalizedMessage, limit: number): { letter: NormalizedMessage; shortened: boolean } | { tooLarge: number } {
  let size = wireSize(topic, letter);
  if (size <= limit) return { letter, shortened: false };
  let error = letter.headers['x-error'] ?? '';
  let fitted = letter;
  // A few rounds at most: a value that travels JSON-encoded (a newline in it) takes more bytes than it has.
  while (size > limit && error !== '') {
    error = cutToBytes(error, Buffer.byteLength(error) - (size - limit) - ELLIPSIS_BYTES);
    fitted = { ...letter, headers: { ...letter.headers, 'x-error': `${error}…` } };
    size = wireSize(topic, fitted);
  }
  return size <= limit ? { letter: fitted, shortened: true } : { tooLarge: size };
}

const ELLIPSIS_BYTES = Buffer.byteLength('…');

/** The longest start of `text` within `bytes` UTF-8 bytes, never splitting a character. */
function cutToBytes(text: string, bytes: number): string {
  if (bytes <= 0) return '';
  const cut = new TextDecoder().decode(Buffer.from(text).subarray(0, bytes));
  // A character cut in half decodes as U+FFFD: drop it.
  return cut.endsWith('\uFFFD') && !text.startsWith(cut) ? cut.slice(0, -1) : cut;
}

/**
 * Reports a message that reached `maxDeliver` and dead-letters it when `consumers.deadLetterTopic`
 * is set. Resolves to false only when the dead-letter publish failed (the caller then leaves the
 * message to the server, whose advisory brings it back here once more); never rejects.
 */
export async function reportGaveUp(ctx: GaveUpContext, g: GaveUp): Promise<boolean> {
  const where = `message ${g.message ? `${g.message.id} ` : ''}(stream "${g.stream}", sequence ${g.streamSequence})`;
  let deadLetterTopic: string | undefined;
  let shortened = false;
  let problem: string | undefined;
  let publishFailed = false;
  const target = ctx.options.consumers.deadLetterTopic;
  if (target && g.message) {
    try {
      const topic = target(g.message);
      if (subjectCovers(g.topic, topic)) {
        // Its own group would consume the dead letter, fail on it and dead-letter it again, for ever.
        problem = `consumers.deadLetterTopic gave "${topic}", which the group's own topic "${g.topic}" covers; give it a topic outside it (e.g. "dlq.${g.message.topic}")`;
      } else {
        const limit = ctx.maxPayloadBytes();
        const fit = fitDeadLetter(topic, normalizeOutgoing(topic, deadLetterOf(g, g.message))[0]!, limit);
        if ('tooLarge' in fit) {
          // Not retried (the caller terminates it): another try cannot make it fit.
          problem =
            `its dead letter does not fit: its payload of ${g.message.payload.length} bytes with its headers and the dead-letter headers ` +
            `take ${fit.tooLarge} bytes, beyond the server's max_payload of ${limit} bytes; raise max_payload in the server config ` +
            `(to at least ${fit.tooLarge}) to dead-letter messages this large, or read it from the stream by its sequence`;
        } else {
          await ctx.publish(topic, fit.letter);
          deadLetterTopic = topic;
          shortened = fit.shortened;
        }
      }
    } catch (error) {
      publishFailed = true;
      problem = `publishing it to the dead-letter topic failed: ${(error as Error)?.message ?? String(error)}`;
    }
  } else if (target) problem = 'it could not be read back from the stream to dead-letter it (deleted, or dropped by the stream limits)';
  const detail =
    `${where} of group "${g.group}" on "${g.topic}" reached consumers.maxDeliver after ${g.deliveries} deliveries (${g.reason}); ` +
    (deadLetterTopic
      ? `published to dead-letter topic "${deadLetterTopic}"${shortened ? ' (its x-error shortened to fit the server\'s max_payload)' : ''}`
      : `JetStream delivers it no more${problem ? `, and ${problem}` : ''}; it stays in the stream until its limits drop it${target ? '' : ' (set consumers.deadLetterTopic to keep a copy)'}`);
  ctx.status.emit({
    type: 'max-deliveries',
    topic: g.topic,
    group: g.group,
    stream: g.stream,
    streamSequence: g.streamSequence,
    deliveries: g.deliveries,
    ...(g.message ? { messageId: g.message.id } : {}),
    reason: g.reason,
    ...(deadLetterTopic ? { deadLetterTopic } : {}),
    detail,
  });
  if (!ctx.status.listening) process.emitWarning(`nats: ${detail}`, { code: 'SWITCHYARD_NATS_MAX_DELIVERIES' });
  return !publishFailed;
}
