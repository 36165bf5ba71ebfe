import { ConfigError, isClosedError, isConfigError, isPermanentError, toError } from '../core/errors.ts';
import { topicMatches } from '../core/topic.ts';
import { isValidTimestamp, type Message } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import { ensureDeadLetterGroup } from '../router/dead-letter-group.ts';
import { withRole } from '../router/middleware-order.ts';
import type { Middleware, RouterContext } from '../router/types.ts';
import { wholeProblems } from './option-problems.ts';
import { retriedInProcess } from './retry.ts';

/** Headers a dead-lettered message carries besides its original ones. */
export const DEAD_LETTER_HEADERS = [
  'x-error',
  'x-error-stack',
  'x-original-topic',
  'x-original-partition',
  'x-original-offset',
  'x-original-key',
  'x-original-group',
  'x-attempts',
  'x-failed-at',
  'x-handler',
] as const;

/** Dead-letter policy. Every field has a default. */
export interface DeadLetterOptions {
  /** Dead-letter once this many attempts failed (see `ctx.attempt`). Default 3. */
  maxAttempts?: number;
  /** The dead-letter topic for a message. Default `<topic>.dlq`. */
  topic?: (message: Message) => string;
  /** The transport to publish dead letters to. Default: the one the message came from. */
  transport?: Transport;
  /** Longest `x-error` value, in characters. Default 1,000. */
  maxErrorLength?: number;
  /** Stack lines kept in `x-error-stack`. Default 8. */
  stackLines?: number;
}

/**
 * Publishes a message that cannot be processed to a dead-letter topic and acknowledges it, so it
 * never blocks the stream and is never lost: on a permanent error (DecodeError, ValidationError,
 * PermanentError) at once, on other errors once `maxAttempts` attempts failed (`ctx.attempt`,
 * which grows with in-process retries and with the transport's redeliveries) and no in-process
 * retry follows — also for errors `retry({ retryable })` declines, which the transport delivers
 * again until then. The dead letter keeps the original id, payload and headers and adds `x-error`,
 * `x-error-stack`, `x-original-topic`, `x-original-partition`, `x-original-offset`,
 * `x-original-key`, `x-original-group`, `x-attempts`, `x-failed-at` and `x-handler`. If the
 * dead-letter publish fails, the message is not acknowledged (the transport delivers it again).
 *
 * Install it inside or outside `retry()`, either works. Use `replayDeadLetters()` to send dead
 * letters back to their topic.
 *
 * @example
 * ```ts
 * router.use(retry({ attempts: 5 }), deadLetter({ maxAttempts: 5 }));
 * ```
 */
export function deadLetter(options: DeadLetterOptions = {}): Middleware {
  const where = 'deadLetter()';
  ConfigError.throwIfAny([
    ...wholeProblems(where, 'maxAttempts', options.maxAttempts, 1),
    ...wholeProblems(where, 'maxErrorLength', options.maxErrorLength, 1),
    ...wholeProblems(where, 'stackLines', options.stackLines, 0),
    ...(options.topic !== undefined && typeof options.topic !== 'function' ? [`${where}: topic must be a function (msg) => string`] : []),
    ...(options.transport !== undefined && typeof options.transport?.publish !== 'function' ? [`${where}: transport must be a transport`] : []),
  ]);
  const maxAttempts = options.maxAttempts ?? 3;
  const topicFor = options.topic ?? ((m: Message) => `${m.topic}.dlq`);
  const maxErrorLength = options.maxErrorLength ?? 1_000;
  const stackLines = options.stackLines ?? 8;

  /** The failure path: dead-letters the message, or rethrows what is not this middleware's to handle. */
  const onFailure = async (thrown: unknown, msg: Message, ctx: RouterContext): Promise<void> => {
    // Stopping, or an attempt cut short (its timeout() fired: it may still be running while
    // the message is delivered again), is not a failure of the message: leave it to the transport.
    if (ctx.stopSignal.aborted || ctx.ended || isClosedError(thrown)) throw thrown;
    const permanent = isPermanentError(thrown);
    // Not yet: another in-process attempt follows (asked of retry()'s policy, so this holds inside
    // retry() too, where a failure is seen before retry() decides), or the transport's
    // redeliveries have not reached maxAttempts. Errors retry() declines count here as well.
    if (!permanent && (ctx.attempt < maxAttempts || retriedInProcess(ctx, thrown))) throw thrown;
    const error = toError(thrown);
    ctx.discardPending();
    const dlqTopic = topicFor(msg);
    const target = options.transport ?? ctx.from;
    if (target === ctx.from && topicMatches(ctx.route, dlqTopic)) {
      // The handler would consume its own dead letters and dead-letter them again, forever.
      throw new ConfigError(
        `handler "${ctx.handler}": dead-letter topic "${dlqTopic}" matches the handler's own pattern "${ctx.route}"; ` +
          `give deadLetter({ topic: (msg) => … }) a topic outside it (e.g. "dlq.${msg.topic}") or another transport`,
        { cause: error },
      );
    }
    await ensureDeadLetterGroup(target, dlqTopic);
    const letter = {
      id: msg.id,
      // No key: dead letters of one key must not hold each other back when listed or replayed.
      payload: msg.payload,
      headers: deadLetterHeaders(msg, ctx, error, maxErrorLength, stackLines),
      // The event's own time (x-failed-at says when it failed): replayed, it is the same event.
      ...(isValidTimestamp(msg.timestamp) ? { timestamp: msg.timestamp } : {}),
    };
    try {
      await target.publish(dlqTopic, letter);
    } catch (refused) {
      // Refused as it is (a ConfigError): most likely too large once the failure headers were
      // added to a message near the broker's limit (NATS max_payload, Kafka message.max.bytes).
      // The stack and a long error text are what can go; refused again, the message stays unacknowledged.
      if (!isConfigError(refused)) throw refused;
      await target.publish(dlqTopic, { ...letter, headers: slimmed(letter.headers) });
      ctx.logger.warn(`handler "${ctx.handler}": the dead letter of message ${msg.id} was refused with its full error (${toError(refused).message}); sent without x-error-stack and with x-error shortened`);
    }
    ctx.count('dead-lettered');
    ctx.logger.warn(`handler "${ctx.handler}" dead-lettered message ${msg.id} to "${dlqTopic}"`, { error: error.message });
  };

  /**
   * The handler succeeded but queued messages: send them here, where a failure can still be
   * dead-lettered. Left to the router (which sends them after the whole chain), a publish the
   * transport keeps refusing (a topic it rejects) failed the message after this middleware, on
   * every delivery, for ever. No in-process retry follows a failed send (`retry()` saw success),
   * so it counts as a final attempt: the transport delivers it again until `maxAttempts`.
   */
  const flushFailed = (thrown: unknown, msg: Message, ctx: RouterContext): Promise<void> => {
    ctx.final = true;
    return onFailure(thrown, msg, ctx);
  };

  // Not async: a success passes through as next()'s own promise plus one reaction.
  return withRole(function deadLetter(msg, ctx, next) {
    return next().then(
      () => (ctx.pending > 0 ? ctx.flush().then(undefined, (thrown: unknown) => flushFailed(thrown, msg, ctx)) : undefined),
      (thrown: unknown) => onFailure(thrown, msg, ctx),
    );
  }, 'deadLetter');
}

/** Dead-letter headers cut to what a message near a broker's size limit can still carry. */
function slimmed(headers: Record<string, string>): Record<string, string> {
  const { 'x-error-stack': _stack, ...rest } = headers;
  const text = rest['x-error'] ?? '';
  return { ...rest, 'x-error': text.length > SLIM_ERROR_LENGTH ? `${text.slice(0, SLIM_ERROR_LENGTH - 1)}…` : text };
}

/** `x-error`'s length in a dead letter sent again without its stack (see `slimmed`). */
const SLIM_ERROR_LENGTH = 200;

function deadLetterHeaders(msg: Message, ctx: RouterContext, error: Error, maxErrorLength: number, stackLines: number): Record<string, string> {
  const headers: Record<string, string> = {};
  // Drop dead-letter headers of an earlier round (a replayed message failing again).
  for (const [k, v] of Object.entries(msg.headers)) if (!(DEAD_LETTER_HEADERS as readonly string[]).includes(k)) headers[k] = v;
  const text = `${error.name}: ${error.message}`;
  headers['x-error'] = text.length > maxErrorLength ? `${text.slice(0, maxErrorLength - 1)}…` : text;
  headers['x-error-stack'] = (error.stack ?? '').split('\n').slice(0, stackLines + 1).join('\n').slice(0, 4_000);
  headers['x-original-topic'] = msg.topic;
  if (msg.partition !== undefined) headers['x-original-partition'] = String(msg.partition);
  if (msg.offset !== undefined) headers['x-original-offset'] = msg.offset;
  if (msg.key !== '') headers['x-original-key'] = msg.key;
  headers['x-original-group'] = ctx.group;
  headers['x-attempts'] = String(ctx.attempt);
  headers['x-failed-at'] = new Date().toISOString();
  headers['x-handler'] = ctx.handler;
  return headers;
}
