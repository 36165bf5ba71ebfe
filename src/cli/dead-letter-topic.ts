import type { Transport } from '../core/transport.ts';
import { DLQ_GROUP } from '../router/dlq.ts';
import { EmbeddedTransport } from '../transports/embedded/index.ts';
import { KafkaTransport } from '../transports/kafka/index.ts';
import { NatsTransport } from '../transports/nats/index.ts';
import { RabbitMQTransport } from '../transports/rabbitmq/index.ts';

/**
 * Whether the broker holds anything `dlq list` / `dlq replay` could find in `dlqTopic`, found out
 * without creating anything. Reading it with the DLQ group would declare what it reads: a topic
 * (embedded, Kafka), a JetStream consumer (and a stream), a durable RabbitMQ queue. A mistyped
 * topic name would leave those behind and be answered "no dead letters" as if all were well.
 */
export async function deadLetterTopicExists(bus: Transport, dlqTopic: string): Promise<boolean> {
  if (bus instanceof EmbeddedTransport) return (await bus.inspect()).some((t) => t.topic === dlqTopic);
  if (bus instanceof KafkaTransport) {
    await bus.connect();
    return (await bus.clients.admin!.listTopics()).includes(dlqTopic);
  }
  if (bus instanceof RabbitMQTransport) {
    // Dead letters live in the DLQ group's queue (dead-letter() declares it before the first one).
    await bus.connect();
    try {
      await bus.native.connection.queueDeclare({ queue: bus.queueFor(dlqTopic, DLQ_GROUP), passive: true });
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === 'NOT_FOUND') return false;
      throw error;
    }
  }
  if (bus instanceof NatsTransport) {
    await bus.connect();
    const jsm = bus.native.manager!;
    const stream = await jsm.streams.find(dlqTopic).catch(() => undefined); // no stream takes the subject
    if (stream === undefined) return false;
    const info = await jsm.streams.info(stream, { subjects_filter: dlqTopic });
    return (info.state.subjects?.[dlqTopic] ?? 0) > 0;
  }
  return true;
}
