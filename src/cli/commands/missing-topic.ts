import { isPattern, topicMatcher } from '../../core/topic.ts';
import type { Transport } from '../../core/transport.ts';
import { EmbeddedTransport } from '../../transports/embedded/index.ts';
import { KafkaTransport } from '../../transports/kafka/index.ts';
import { NatsTransport } from '../../transports/nats/index.ts';
import { deadLetterTopicExists } from '../dead-letter-topic.ts';
import { likelyTypo } from '../likely-typo.ts';
import { listNatsStreams } from '../topics/nats.ts';

/** Topic names listed in the message at most; `switchyard topics` shows the rest. */
const LISTED = 10;

/**
 * Why a read-only command must not subscribe to `topic` (a topic or pattern) on `bus`, or
 * `undefined` when it may. Subscribing creates what it reads where nothing matches yet: the topic
 * (embedded broker, Kafka with auto-create), a JetStream stream (NATS). A mistyped name would
 * leave that behind and the command would wait in silence for messages that never come.
 *
 * A topic exists as `dlq` sees it (deadLetterTopicExists): listed by the embedded broker or Kafka,
 * holding messages in a JetStream stream. A pattern is refused only on NATS, where subscribing
 * creates a stream for it, and only when it matches no topic there: elsewhere it creates nothing,
 * and watching a pattern before its topics exist is what it is for. RabbitMQ is never refused:
 * AMQP cannot list what routing keys exist, and a command's throwaway queue goes away when it
 * stops. `where` names the broker in the message (`describeBroker`).
 */
export async function missingTopicProblem(bus: Transport, topic: string, where: string): Promise<string | undefined> {
  const names = topicLister(bus);
  if (names === undefined) return undefined;
  const pattern = isPattern(topic);
  if (pattern && !(bus instanceof NatsTransport)) return undefined;
  if (!pattern && (await deadLetterTopicExists(bus, topic))) return undefined;
  // Listing NATS streams fails when one is deleted between listing and reading it: asked again.
  // A topic known missing is reported without the names when the listing keeps failing.
  const existing = await names().catch(() => names().catch((error: unknown) => (pattern ? Promise.reject(error) : undefined)));
  const matches = pattern ? topicMatcher(topic) : (name: string) => name === topic;
  if (existing?.some(matches)) return undefined;
  const what = pattern ? `no topic on ${where} matches "${topic}"` : `topic "${topic}" does not exist on ${where}`;
  const near = pattern || existing === undefined ? undefined : likelyTypo(topic, existing);
  const shown =
    existing === undefined
      ? ''
      : near !== undefined
        ? ` (did you mean "${near}"?)`
        : existing.length === 0
          ? ' (it has no topics)'
          : existing.length <= LISTED
            ? ` (it has ${existing.sort().join(', ')})`
            : ` (it has ${existing.length} topics)`;
  return (
    `${what}${shown}; nothing was created. \`switchyard topics\` lists what is there; ` +
    `--create tails it anyway, creating what subscribing creates on this broker, to watch a topic before its first message`
  );
}

/** How to list the topics of `bus`, for the brokers where subscribing creates them (undefined on RabbitMQ, which cannot list them). */
export function topicLister(bus: Transport): (() => Promise<string[]>) | undefined {
  if (bus instanceof EmbeddedTransport) return async () => (await bus.inspect()).map((t) => t.topic);
  if (bus instanceof KafkaTransport) {
    return async () => {
      await bus.connect();
      return (await bus.clients.admin!.listTopics()).filter((name) => !name.startsWith('__')); // Kafka's own
    };
  }
  if (bus instanceof NatsTransport) return async () => (await listNatsStreams(bus, () => true)).flatMap((s) => s.topics.map((t) => t.topic));
  return undefined;
}
