import { randomBytes } from 'node:crypto';
import { toError } from '../core/errors.ts';
import { isValidTimestamp, type Message, type OutgoingMessage } from '../core/message.ts';
import type { Subscription, Transport } from '../core/transport.ts';
import { deferred } from '../internal/deferred.ts';
import { DEAD_LETTER_HEADERS } from '../middleware/dead-letter.ts';
import { REPUBLISHED_AT_HEADER } from '../core/replay.ts';
import { DLQ_GROUP } from './dead-letter-group.ts';

export { DLQ_GROUP };

/** How to read a dead-letter topic. */
export interface DeadLetterReadOptions {
  /** Group whose unacknowledged messages are the DLQ's content. Default `switchyard.dlq`. */
  group?: string;
  /** Stop once no new message arrived for this long, in ms. Default 500. */
  idleMs?: number;
  /** Most messages looked at in one call. Default 10,000. */
  limit?: number;
}

/** One dead letter, as listed. */
export interface DeadLetter {
  id: string;
  originalTopic: string;
  error: string;
  attempts: number;
  failedAt: string;
  handler: string;
  message: Message;
}

function toDeadLetter(m: Message): DeadLetter {
  const h = m.headers;
  return {
    id: m.id,
    originalTopic: h['x-original-topic'] ?? '',
    error: h['x-error'] ?? '',
    attempts: Number(h['x-attempts'] ?? 0),
    failedAt: h['x-failed-at'] ?? '',
    handler: h['x-handler'] ?? '',
    message: m,
  };
}

/**
 * Letters a replay handles at once. Its letters are acknowledged as it goes, so a small window
 * does as much (each publish waits for its write, and the window's publishes share one), while
 * thousands of publishes at once held memory and made an interrupted replay wait for all of them.
 */
const REPLAY_WINDOW = 256;

/**
 * Reads the dead-letter topic with the DLQ group, handing each message to `decide`: `'ack'`
 * removes it (after `decide` resolved), `'keep'` leaves it where it is (it is handed back
 * unacknowledged once the topic has been quiet for `idleMs`). A message seen twice in one sweep
 * (one that `decide` moved to the end of the topic) is kept. `window`: messages held at once; a
 * sweep that keeps every message needs `limit` (each it keeps is held until the sweep ends).
 */
async function sweep(
  transport: Transport,
  dlqTopic: string,
  options: DeadLetterReadOptions,
  window: 'limit' | number,
  decide: (m: Message) => Promise<'ack' | 'keep'>,
): Promise<void> {
  const idleMs = options.idleMs ?? 500;
  const limit = options.limit ?? 10_000;
  const concurrency = window === 'limit' ? limit : Math.min(window, limit);
  const release = deferred<void>();
  const seen = new Set<string>();
  // Assigned once subscribe resolves; `done` may run before that.
  // eslint-disable-next-line prefer-const
  let sub: Subscription | undefined;
  // Pause first, so messages handed back are not delivered to this sweep again.
  const done = (): void => {
    sub?.pause();
    release.resolve();
  };
  let timer = setTimeout(done, idleMs);
  const touch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(done, idleMs);
  };
  sub = await transport.subscribe(dlqTopic, { group: options.group ?? DLQ_GROUP, from: 'earliest', concurrency }, async (m) => {
    const first = !seen.has(m.id) && seen.size < limit;
    seen.add(m.id);
    if (first) {
      touch();
      if ((await decide(m)) === 'ack') return;
    }
    await release.promise;
    throw new Error('kept in the dead-letter topic');
  });
  await release.promise;
  clearTimeout(timer);
  sub.pause();
  await sub.close();
}

/**
 * Lists the messages in a dead-letter topic (those the DLQ group has not removed), oldest first.
 * Nothing is removed. Needs a transport that keeps messages for groups (`persistentGroups`).
 *
 * @example
 * ```ts
 * for (const d of await listDeadLetters(bus, 'orders.placed.dlq')) console.log(d.id, d.error);
 * ```
 */
export async function listDeadLetters(transport: Transport, dlqTopic: string, options: DeadLetterReadOptions = {}): Promise<DeadLetter[]> {
  const found: DeadLetter[] = [];
  await sweep(transport, dlqTopic, options, 'limit', async (m) => {
    found.push(toDeadLetter(m));
    return 'keep';
  });
  return found.sort((a, b) => Number(a.message.offset ?? 0) - Number(b.message.offset ?? 0) || a.message.timestamp - b.message.timestamp);
}

/** What to replay. */
export interface ReplayOptions extends DeadLetterReadOptions {
  /** Only these message ids; default: every message. */
  ids?: readonly string[];
  /** Publish to this transport instead of the dead-letter topic's. */
  to?: Transport;
  /**
   * Told of each selected dead letter that was not replayed, and why: it has no
   * `x-original-topic`, or publishing it there failed (an invalid topic, the broker refused it).
   * Such a letter is moved to the end of the DLQ, like those not selected.
   */
  onSkip?: (id: string, reason: string) => void;
}

/**
 * Publishes dead letters back to their original topic (`x-original-topic`) with their original
 * id, key, payload and headers (the `x-` dead-letter headers removed), and removes each from the
 * DLQ only after its publish succeeded. Dead letters not selected by `ids` are moved to the end of
 * the DLQ (same id, payload and headers). At most 256 letters are handled at once. Returns the
 * replayed ids.
 *
 * @example
 * ```ts
 * await replayDeadLetters(bus, 'orders.placed.dlq');                 // all
 * await replayDeadLetters(bus, 'orders.placed.dlq', { ids: [id] });  // one
 * ```
 */
export async function replayDeadLetters(transport: Transport, dlqTopic: string, options: ReplayOptions = {}): Promise<string[]> {
  const wanted = options.ids ? new Set(options.ids) : undefined;
  const replayed: string[] = [];
  // Not replayed: moved to the end of the DLQ, so the group's position can pass it (log
  // transports commit contiguous offsets) and it stays listed.
  const keep = (m: Message): Promise<void> =>
    transport.publish(dlqTopic, { id: m.id, payload: m.payload, headers: { ...m.headers, [REPUBLISHED_AT_HEADER]: new Date().toISOString() } });
  await sweep(transport, dlqTopic, options, REPLAY_WINDOW, async (m) => {
    if (wanted && !wanted.has(m.id)) {
      await keep(m);
      return 'ack';
    }
    const original = m.headers['x-original-topic'];
    if (!original) {
      options.onSkip?.(m.id, 'it has no x-original-topic header, so where it came from is unknown');
      await keep(m);
      return 'ack';
    }
    try {
      await (options.to ?? transport).publish(original, restore(m));
    } catch (error) {
      // Left unacknowledged, it would pin the group's position, and every later letter (replayed
      // and removed meanwhile) would come back in the next sweep and be replayed twice.
      options.onSkip?.(m.id, `publishing it to "${original}" failed: ${toError(error).message}`);
      await keep(m);
      return 'ack';
    }
    replayed.push(m.id);
    return 'ack';
  });
  return replayed;
}

/** The message as it was before it was dead-lettered. */
export function restore(m: Message): OutgoingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.headers)) if (!(DEAD_LETTER_HEADERS as readonly string[]).includes(k)) headers[k] = v;
  headers[REPUBLISHED_AT_HEADER] = new Date().toISOString();
  return {
    id: m.id,
    payload: m.payload,
    headers,
    ...(m.headers['x-original-key'] ? { key: m.headers['x-original-key'] } : {}),
    // The dead letter kept the event's time (deadLetter() publishes it with the original's).
    ...(isValidTimestamp(m.timestamp) ? { timestamp: m.timestamp } : {}),
  };
}

/** A random suffix, for tools that need a throwaway group. */
export function runId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}
