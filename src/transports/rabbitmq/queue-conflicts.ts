import { ConfigError } from '../../core/errors.ts';
import { amqpCode } from './errors.ts';

/**
 * A queue that exists with other settings than the transport declares: RabbitMQ refuses the
 * declaration (PRECONDITION_FAILED, "inequivalent arg"), e.g. a group queue someone declared as
 * a quorum queue or with their own dead-letter exchange, or a changed `groupQueue.expiresMs`.
 * Nothing can be changed in place, and deleting the queue deletes its messages, so the error
 * says which setting to make match and how to replace the queue instead.
 */

/** The `QueueSettings` field behind each property RabbitMQ compares on a re-declaration. */
const SETTING_OF: Readonly<Record<string, string>> = {
  'x-queue-type': 'type',
  'x-message-ttl': 'messageTtlMs',
  'x-expires': 'expiresMs',
  'x-max-length': 'maxLength',
  'x-max-length-bytes': 'maxLengthBytes',
  'x-overflow': 'overflow',
  'x-dead-letter-exchange': 'deadLetterExchange',
  'x-dead-letter-routing-key': 'deadLetterRoutingKey',
  'x-single-active-consumer': 'singleActiveConsumer',
  durable: 'durable',
  auto_delete: 'autoDelete',
  exclusive: 'exclusive',
};

/**
 * A ConfigError for a refused declaration of `queue` whose settings come from `settings` (an
 * option's name, e.g. `groupQueue`), or undefined if `error` is not such a refusal.
 */
export function inequivalentQueue(error: unknown, queue: string, settings: string): ConfigError | undefined {
  if (amqpCode(error) !== 'PRECONDITION_FAILED') return undefined;
  const message = error instanceof Error ? error.message : String(error);
  const argument = /inequivalent arg '([^']+)'/.exec(message)?.[1];
  if (argument === undefined) return undefined;
  const field = SETTING_OF[argument];
  const match = field === undefined ? `add '${argument}' to arguments in ${settings} as the queue has it` : `set ${field} in ${settings} to what the queue has`;
  return new ConfigError(
    `rabbitmq: queue "${queue}" exists with other settings than ${settings} gives it (${message}). ` +
      `Either ${match}, or replace the queue: stop its consumers, move its messages elsewhere (a shovel) or let them drain, ` +
      `and delete it (rabbitmqctl delete_queue "${queue}" — deletes the messages in it); the next subscription declares it anew`,
    { cause: error },
  );
}
