import type { Connection } from 'rabbitmq-client';
import type { NormalizedMessage } from '../../core/message.ts';
import { DELIVERY_COUNT } from './dead-letters.ts';
import { HEADER_NAMES as NAMES, headerProblems, INTERNAL_PREFIX, isLongId, MAX_SHORT_STRING_BYTES } from './mapping.ts';

/**
 * Does a message's metadata fit in one AMQP frame?
 *
 * AMQP 0-9-1 sends a message as a method frame, one content header frame and body frames. The
 * body may span any number of frames, but the header frame — every property, including the
 * headers table that carries the user's headers, the key and Switchyard's own headers — must fit
 * in one frame of at most frame_max bytes. rabbitmq-client finds out only while encoding
 * (`CODEC: frame size of … exceeds maximum of …`), so publish() checks first, for every message
 * of the batch before sending any.
 */

/** frame_max the transport asks for: RabbitMQ's default, and its recommended value. */
export const FRAME_MAX = 131_072;

/** A header table entry besides its name and value bytes: name length (1), type tag (1), value length (4). */
const ENTRY = 6;

/**
 * The header frame's payload apart from what depends on the message: class id, weight, body size
 * and property flags (14), table length (4), delivery mode (1), `message-id` at its longest
 * (1 + 255), timestamp (8), `x-switchyard-ts` and — added by a redelivery, which must fit too —
 * `x-switchyard-attempt` (values of up to 16 digits).
 */
const FIXED = 14 + 4 + 1 + (1 + MAX_SHORT_STRING_BYTES) + 8 + (ENTRY + NAMES.timestamp.length + 16) + (ENTRY + NAMES.attempt.length + 16);

/**
 * The frame_max in force on `connection`: the smaller of what the transport asked for and what
 * the broker allows. rabbitmq-client keeps the negotiated value in its internal state; if that
 * ever moves, FRAME_MAX is the bound the client itself checks against.
 */
export function negotiatedFrameMax(connection: Connection): number {
  const negotiated = (connection as unknown as { _state?: { frameMax?: unknown } })._state?.frameMax;
  return typeof negotiated === 'number' && negotiated > 0 && negotiated < FRAME_MAX ? negotiated : FRAME_MAX;
}

/**
 * Size in bytes of the content header frame payload of `m` published to a topic of `topicBytes`
 * UTF-8 bytes, at its largest (when redelivered: with attempt and topic headers added). Counts
 * exactly what mapping.ts writes; `header-frame.test.ts` compares it with rabbitmq-client's encoder.
 */
export function headerFrameBytes(m: NormalizedMessage, topicBytes: number): number {
  let n = FIXED + ENTRY + NAMES.topic.length + topicBytes;
  const { headers } = m;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    n += ENTRY + Buffer.byteLength(name) + Buffer.byteLength(headers[name]!);
    if (name === '__proto__') n += NAMES.saved.length; // sent as x-switchyard-h-__proto__
  }
  if (m.key !== '') n += ENTRY + NAMES.key.length + Buffer.byteLength(m.key);
  if (isLongId(m.id)) n += ENTRY + NAMES.id.length + Buffer.byteLength(m.id);
  return n;
}

/**
 * Every problem with the batch that AMQP or Switchyard's reserved names rule out: header names in
 * the `x-switchyard-` namespace, `x-delivery-count` (RabbitMQ's) or over 255 bytes, and messages whose metadata does not fit in one
 * frame of `frameMax` bytes. Runs on every publish: it measures strings only where a bound from
 * their lengths (at most 3 UTF-8 bytes per UTF-16 unit) cannot rule a problem out, and builds
 * strings only for problems.
 */
export function publishProblems(topic: string, batch: readonly NormalizedMessage[], frameMax: number): string[] {
  const problems: string[] = [];
  const topicBound = 3 * topic.length;
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i]!;
    const { headers } = m;
    let bound = FIXED + ENTRY + NAMES.topic.length + topicBound;
    let badName = false;
    for (const name in headers) {
      if (!Object.hasOwn(headers, name)) continue;
      const value = headers[name]!;
      // Lower-casing only names that start with x/X keeps allocations off the common path.
      if ((name.charCodeAt(0) | 0x20) === 0x78 && (name === DELIVERY_COUNT || name.toLowerCase().startsWith(INTERNAL_PREFIX))) badName = true;
      else if (name.length > MAX_SHORT_STRING_BYTES / 3 && Buffer.byteLength(name) > MAX_SHORT_STRING_BYTES) badName = true;
      bound += ENTRY + NAMES.saved.length + 3 * (name.length + value.length);
    }
    if (badName) problems.push(...headerProblems(where(topic, batch.length, i), headers));
    if (m.key !== '') bound += ENTRY + NAMES.key.length + 3 * m.key.length;
    bound += ENTRY + NAMES.id.length + 3 * m.id.length;
    if (bound <= frameMax) continue;
    const bytes = headerFrameBytes(m, Buffer.byteLength(topic));
    if (bytes <= frameMax) continue;
    const id = m.id.length > 60 ? `${m.id.slice(0, 60)}…` : m.id;
    problems.push(
      `rabbitmq: ${where(topic, batch.length, i)} (id ${id}): its headers, key and id take ${bytes} bytes in the AMQP content header frame (with the headers a redelivery adds), ` +
        `more than the ${frameMax} bytes one frame may hold (the connection's frame_max); send fewer or smaller headers or a shorter key or id, ` +
        'and put large metadata in the payload',
    );
  }
  return problems;
}

function where(topic: string, count: number, i: number): string {
  return count === 1 ? `publish to "${topic}"` : `publish to "${topic}", message ${i}`;
}
