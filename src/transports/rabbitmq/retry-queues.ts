import type { Channel, Connection } from 'rabbitmq-client';
import { ConfigError, toError } from '../../core/errors.ts';
import { amqpCode } from './errors.ts';
import { retryQueueName } from './mapping.ts';
import { queueDeclaration, type QueueSettings } from './topology.ts';

/**
 * Retry queues: where a failed message waits its redelivery delay (`x-message-ttl`) before it is
 * dead-lettered back to its group's queue.
 *
 * When the group's queue expires (`expiresMs`, `x-expires`), so do its retry queues, or every
 * abandoned group would leave them behind for ever. RabbitMQ deletes a queue that has had no
 * consumer, no `basic.get` and no re-declaration for its `x-expires` — messages and all, and a
 * publish does not count as use. A retry queue never has a consumer, so the transport declares it
 * again right before and right after every message it puts in (`retry-publisher.ts`), and its
 * expiry is at least its delay plus `RETRY_EXPIRY_MARGIN_MS`: every waiting message leaves before
 * the queue can expire.
 *
 * Only classic queues get `x-expires`: RabbitMQ (3.10, tested) does not count a re-declaration as use of a
 * quorum queue, so an expiring quorum retry queue could be deleted with messages in it.
 */

/** The `queue.declare` parameters of a queue. */
export type QueueDeclaration = ReturnType<typeof queueDeclaration>;

/**
 * How much longer than its delay a retry queue lives at least after its last message went in. It
 * covers the gap between a message and the re-declaration sent right after it, which the queue may
 * even handle a little before the message (it serves declarations ahead of waiting deliveries).
 */
export const RETRY_EXPIRY_MARGIN_MS = 5_000;

/**
 * The declaration of the retry queue that holds failed messages of `queue` for `delayMs`.
 * `settings` are the group queue's: a classic group queue that expires after `expiresMs` gets
 * retry queues that expire after max(`expiresMs`, `delayMs` + 5 s) unused.
 */
export function retryQueueDeclaration(queue: string, delayMs: number, settings: QueueSettings): QueueDeclaration {
  const type = settings.type ?? 'classic';
  const expiresMs = type === 'classic' && settings.expiresMs !== undefined ? Math.max(settings.expiresMs, delayMs + RETRY_EXPIRY_MARGIN_MS) : undefined;
  return queueDeclaration(retryQueueName(queue, delayMs), {
    type,
    messageTtlMs: delayMs,
    deadLetterExchange: '',
    deadLetterRoutingKey: queue,
    ...(expiresMs === undefined ? {} : { expiresMs }),
  });
}

/** True if the queue is declared with `x-expires`, so its lease must be renewed around each message. */
export function expires(declaration: QueueDeclaration): boolean {
  return declaration.arguments['x-expires'] !== undefined;
}

/** The same declaration without `x-expires`: how versions before retry queues expired declared it. */
function withoutExpiry(declaration: QueueDeclaration): QueueDeclaration {
  const args = { ...declaration.arguments };
  delete args['x-expires'];
  return { ...declaration, arguments: args };
}

/** What `declareRetryQueues` found besides queues declared as asked. */
export interface DeclaredRetryQueues {
  /** Queues that existed without `x-expires` and empty: deleted and declared again with it. */
  replaced: string[];
  /** Queues that existed without `x-expires` and held messages: used as they are for now. */
  legacy: string[];
}

/**
 * Declares retry queues on a channel of their own. RabbitMQ refuses to declare an existing queue
 * with other arguments (PRECONDITION_FAILED, which closes the channel). A queue an older version
 * declared without `x-expires` is recognised by declaring it that way: if it is empty it is
 * deleted (`if-empty`, so a message that arrives first keeps it) and declared with `x-expires`
 * (`replaced`); if it holds messages it is kept as it is (`legacy`) and the next declaration that
 * finds it empty replaces it. Any other conflict rejects with a ConfigError that names the queue,
 * the argument and what to do: such a queue may hold messages, and its type is unknown
 * (`if-empty` on a quorum queue closes the whole connection).
 */
export async function declareRetryQueues(connection: Connection, declarations: readonly QueueDeclaration[]): Promise<DeclaredRetryQueues> {
  const result: DeclaredRetryQueues = { replaced: [], legacy: [] };
  if (declarations.length === 0) return result;
  let ch: Channel = await connection.acquire();
  /** Runs `step`: undefined if it succeeded, the error if the broker refused it as PRECONDITION_FAILED (it closed the channel: a new one is taken). */
  const refusal = async (step: () => Promise<unknown>): Promise<Error | undefined> => {
    try {
      await step();
      return undefined;
    } catch (error) {
      if (amqpCode(error) !== 'PRECONDITION_FAILED') throw error;
      ch = await connection.acquire();
      return toError(error);
    }
  };
  try {
    for (const declaration of declarations) {
      const conflict = await refusal(() => ch.queueDeclare(declaration));
      if (!conflict) continue;
      if (!expires(declaration) || (await refusal(() => ch.queueDeclare(withoutExpiry(declaration))))) {
        throw conflictingRetryQueue(declaration.queue, conflict);
      }
      // A classic queue with the arguments of an older version: safe to replace once empty.
      if (await refusal(() => ch.queueDelete({ queue: declaration.queue, ifEmpty: true }))) {
        result.legacy.push(declaration.queue);
      } else if (await refusal(() => ch.queueDeclare(declaration))) {
        result.legacy.push(declaration.queue); // declared again meanwhile by an older version
      } else {
        result.replaced.push(declaration.queue);
      }
    }
  } finally {
    if (ch.active) await ch.close().catch(() => undefined);
  }
  return result;
}

/** A retry queue exists with arguments this transport does not know how to take over. */
function conflictingRetryQueue(queue: string, cause: Error): ConfigError {
  return new ConfigError(
    `rabbitmq: retry queue "${queue}" exists with other arguments than this transport declares (${cause.message}). ` +
      'It may hold failed messages waiting for their redelivery: stop the group\'s subscribers, wait until it is empty ' +
      `(rabbitmqctl list_queues name messages), then delete it (rabbitmqctl delete_queue "${queue}"); the next subscription declares it`,
    { cause },
  );
}
