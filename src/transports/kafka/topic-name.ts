/**
 * Kafka topic names allow only letters, digits, `.`, `_` and `-` — narrower than Switchyard's
 * names, whose tokens may also hold `:` and `@` (fine on NATS, RabbitMQ and the embedded broker).
 * Apache Kafka refuses such a topic with INVALID_TOPIC_EXCEPTION, and some test clusters (the
 * librdkafka mock) accept it: checked here, so a name works on every Kafka or on none.
 */
const KAFKA_NAME = /^[A-Za-z0-9._\-*>]+$/;

/** Why Kafka cannot have a topic (or a pattern's topics) named `name`, or undefined when it can. */
export function kafkaTopicProblem(name: string, kind: 'topic' | 'pattern'): string | undefined {
  if (KAFKA_NAME.test(name)) return undefined;
  return `kafka: ${kind} "${name}" has characters Kafka topic names cannot hold (only letters, digits, ".", "_" and "-"); use "-" or "_" instead of ":" and "@"`;
}
