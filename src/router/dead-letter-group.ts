import { declareGroup } from '../core/declare-group.ts';
import type { Transport } from '../core/transport.ts';

/** The consumer group whose position defines what is still "in" a dead-letter topic. */
export const DLQ_GROUP = 'switchyard.dlq';

const declared = new WeakMap<Transport, Map<string, Promise<void>>>();

/**
 * Makes sure the DLQ group exists on `dlqTopic` before dead letters are published there, where
 * the transport delivers a message only to the groups that exist when it is published (RabbitMQ:
 * a topic reaches the queues bound at that moment, and a message no queue takes is dropped). On
 * such a broker the first dead letters of a topic nobody consumed yet would go nowhere. Once per
 * transport and topic; nothing to do where groups created later still read what came before
 * (Kafka, NATS JetStream, the embedded and memory brokers) or where nothing is kept (core NATS).
 *
 * @example
 * ```ts
 * await ensureDeadLetterGroup(bus, 'orders.placed.dlq');
 * await bus.publish('orders.placed.dlq', letter);
 * ```
 */
export function ensureDeadLetterGroup(transport: Transport, dlqTopic: string): Promise<void> {
  const c = transport.capabilities;
  if (c.replay || !c.persistentGroups) return Promise.resolve();
  let topics = declared.get(transport);
  if (!topics) {
    topics = new Map();
    declared.set(transport, topics);
  }
  let ready = topics.get(dlqTopic);
  if (!ready) {
    ready = declareGroup(transport, dlqTopic, DLQ_GROUP);
    topics.set(dlqTopic, ready);
    ready.catch(() => topics.delete(dlqTopic)); // the next dead letter tries again
  }
  return ready;
}
