/**
 * RabbitMQ's dead-letter headers on a delivery: which deaths are the broker's own (a queue's TTL,
 * max length, delivery limit, a rejection, a user's dead-letter policy) and which are Switchyard's
 * plumbing (a retry queue that held a failed message for its delay and dead-lettered it back).
 *
 * Switchyard republishes a failed message without the broker's death headers (it keeps those the
 * handler saw under its own prefix, `x-switchyard-h-`), so the broker starts `x-death` afresh on
 * the copy. `x-death` lists the most recent death first and an entry, once written, only moves
 * when the same queue kills the message again for the same reason; so on a redelivered message the
 * retry queue's entry, if the message waited in one, is the last one, and every entry before it is
 * a death since: RabbitMQ dead-lettered the message after Switchyard had put it back. Such a
 * message sits in another queue now, and the attempt number and topic Switchyard gave it belong to
 * the group it left.
 */

/** Headers RabbitMQ writes when it dead-letters a message (3.10 writes no `x-last-death-*`; later versions do). */
export const DEATH_HEADERS: ReadonlySet<string> = new Set([
  'x-death',
  'x-first-death-reason',
  'x-first-death-queue',
  'x-first-death-exchange',
  'x-last-death-reason',
  'x-last-death-queue',
  'x-last-death-exchange',
]);

/**
 * A quorum queue's count of how often it handed a message out again (after a lost channel, a
 * requeue). The broker writes it over whatever was published under that name, so it is never a
 * publisher's header; Switchyard's attempt number counts something else (see docs/rabbitmq.md).
 */
export const DELIVERY_COUNT = 'x-delivery-count';

/** One `x-death` entry as rabbitmq-client decodes it: `queue`, `reason`, `exchange`, `count`, `routing-keys`, `time`. */
export type Death = Record<string, unknown>;

/** `retryQueueName` of a name short enough to be kept whole. */
const RETRY_QUEUE_NAME = /\.retry\.\d+$/;

/**
 * True if `death` is a retry queue's: Switchyard published the message to it through the default
 * exchange, and it expired there after its delay. `retryQueues` are the retry queues of the queue
 * being read, which also covers names `fitName` shortened; a retry queue of other delays (another
 * version of the group's members) is known by its name's form.
 */
export function isRetryDeath(death: unknown, retryQueues: ReadonlySet<string>): boolean {
  if (typeof death !== 'object' || death === null) return false;
  const { queue, reason, exchange } = death as Death;
  return reason === 'expired' && exchange === '' && typeof queue === 'string' && (retryQueues.has(queue) || RETRY_QUEUE_NAME.test(queue));
}

/**
 * The deaths of a message Switchyard redelivered that happened after it put the message back,
 * most recent first (`xDeath` is the delivery's `x-death` header); empty if the broker has not
 * dead-lettered it since, only the retry queue did.
 */
export function deathsSinceRedelivery(xDeath: unknown, retryQueues: ReadonlySet<string>): Death[] {
  if (!Array.isArray(xDeath) || xDeath.length === 0) return [];
  const real = isRetryDeath(xDeath[xDeath.length - 1], retryQueues) ? xDeath.slice(0, -1) : xDeath.slice();
  return real.filter((d): d is Death => typeof d === 'object' && d !== null);
}
