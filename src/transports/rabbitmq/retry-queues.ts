import type { Channel, Connection } from 'rabbitmq-client';
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

/** What `declareRetryQueues` declared. */
export interface DeclaredRetryQueues {
  /** The declaration in effect for each queue, in the order given. */
  declared: QueueDeclaration[];
  /** Queues that existed without `x-expires` and are used as they are. */
  legacy: string[];
}

/**
 * Declares retry queues on a channel of their own. A queue that already exists without `x-expires`
 * (declared by an older version: RabbitMQ refuses a re-declaration with other arguments,
 * PRECONDITION_FAILED) is kept and used as it is — never deleted, as it may hold messages — and
 * named in `legacy`. Any other conflict rejects with the broker's error.
 */
export async function declareRetryQueues(connection: Connection, declarations: readonly QueueDeclaration[]): Promise<DeclaredRetryQueues> {
  const result: DeclaredRetryQueues = { declared: [], legacy: [] };
  if (declarations.length === 0) return result;
  let ch: Channel = await connection.acquire();
  try {
    for (const declaration of declarations) {
      try {
        await ch.queueDeclare(declaration);
        result.declared.push(declaration);
      } catch (error) {
        if (amqpCode(error) !== 'PRECONDITION_FAILED' || !expires(declaration)) throw error;
        // The broker closed the channel over the refused declaration.
        ch = await connection.acquire();
        const old = withoutExpiry(declaration);
        await ch.queueDeclare(old);
        result.declared.push(old);
        result.legacy.push(declaration.queue);
      }
    }
  } finally {
    if (ch.active) await ch.close().catch(() => undefined);
  }
  return result;
}
