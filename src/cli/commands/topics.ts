import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.ts';
import { isPattern, patternProblems, topicMatcher } from '../../core/topic.ts';
import type { Transport } from '../../core/transport.ts';
import type { EmbeddedTransport, TopicInfo as EmbeddedTopicInfo } from '../../transports/embedded/index.ts';
import type { KafkaTransport } from '../../transports/kafka/index.ts';
import type { NatsTransport } from '../../transports/nats/index.ts';
import type { RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { chosenBroker, describeBroker, transportFor, withBrokerOptions, type BrokerKind, type BrokerOptions } from '../broker-choice.ts';
import { likelyTypo } from '../likely-typo.ts';
import { listKafkaTopics, type KafkaTopicListing } from '../topics/kafka.ts';
import { listNatsStreams, type NatsStreamListing } from '../topics/nats.ts';
import { listRabbitMQBindings, type RabbitMQBindingListing } from '../topics/rabbitmq.ts';

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * `switchyard topics [PATTERN]` on any broker: what topics hold and how far each group trails.
 * Embedded: topics, partitions, sizes, offsets and group lag (through the owner's socket when a
 * process owns the directory). Kafka: topics, partition offsets and group lag. NATS JetStream:
 * streams, messages per topic, consumers' pending counts. RabbitMQ (with `--management`): the topic
 * exchange's bindings and their queues' depth.
 */
export function registerTopics(program: Command): void {
  withBrokerOptions(
    program
      .command('topics')
      .description('list topics and how far each group trails them: embedded broker, Kafka, NATS JetStream, or RabbitMQ (through its management API)')
      .argument('[pattern]', 'only topics matching this name or pattern (e.g. "orders.>")'),
  )
    .option('--json', 'print JSON instead of a table')
    .action(async (pattern: string | undefined, opts: BrokerOptions & { json?: boolean }) => {
      if (pattern !== undefined) ConfigError.throwIfAny(patternProblems(pattern));
      const matches = pattern === undefined ? () => true : topicMatcher(pattern);
      const kind = chosenBroker(opts);
      const bus = transportFor(opts);
      try {
        const listing = await list(kind, bus, matches);
        // JSON: the embedded broker's topics as before; the others' listing, without the kind tag.
        if (opts.json) console.log(JSON.stringify(listing.kind === 'dir' ? listing.topics : { ...listing, kind: undefined }, null, 2));
        else {
          // A name that matches nothing is most often a typo: name the topic it most likely meant.
          let near: string | undefined;
          if (pattern !== undefined && !isPattern(pattern) && topicNames(listing).length === 0) near = likelyTypo(pattern, topicNames(await list(kind, bus, () => true)));
          print(listing, `${describeBroker(opts)}${pattern === undefined ? '' : ` matching ${pattern}`}${near === undefined ? '' : ` (did you mean "${near}"?)`}`);
        }
      } finally {
        await bus.close();
      }
    });
}

type Listing =
  | { kind: 'dir'; topics: EmbeddedTopicInfo[] }
  | { kind: 'kafka'; topics: KafkaTopicListing[]; groupsNote?: string }
  | { kind: 'nats'; streams: NatsStreamListing[] }
  | { kind: 'rabbitmq'; bindings: RabbitMQBindingListing[] };

async function list(kind: BrokerKind, bus: Transport, matches: (topic: string) => boolean): Promise<Listing> {
  switch (kind) {
    case 'dir':
      return { kind, topics: (await (bus as EmbeddedTransport).inspect()).filter((t) => matches(t.topic)) };
    case 'kafka':
      return { kind, ...(await listKafkaTopics(bus as KafkaTransport, matches)) };
    case 'nats':
      return { kind, streams: await listNatsStreams(bus as NatsTransport, matches) };
    case 'rabbitmq':
      return { kind, bindings: await listRabbitMQBindings(bus as RabbitMQTransport, matches) };
  }
}

/** The topic names a listing shows. */
function topicNames(listing: Listing): string[] {
  switch (listing.kind) {
    case 'nats':
      return listing.streams.flatMap((s) => s.topics.map((t) => t.topic));
    case 'rabbitmq':
      return listing.bindings.map((b) => b.topic);
    default:
      return listing.topics.map((t) => t.topic);
  }
}

function print(listing: Listing, where: string): void {
  const empty = listing.kind === 'nats' ? listing.streams.length === 0 : listing.kind === 'rabbitmq' ? listing.bindings.length === 0 : listing.topics.length === 0;
  if (empty) {
    console.log(`no topics on ${where}`);
    return;
  }
  switch (listing.kind) {
    case 'dir':
      for (const t of listing.topics) {
        const bytes = t.partitions.reduce((n, p) => n + p.bytes, 0);
        const end = t.partitions.reduce((n, p) => n + p.endOffset, 0);
        console.log(`${t.topic}  partitions=${t.partitions.length}  size=${formatBytes(bytes)}  messages=${end}${t.compact ? '  compacted' : ''}`);
        for (const p of t.partitions) {
          console.log(`  partition ${p.partition}: offsets ${p.startOffset}..${p.endOffset}  ${formatBytes(p.bytes)} in ${p.segments} segment(s)`);
        }
        for (const g of t.groups) {
          const parts = g.partitions.map((p) => `${p.partition}@${p.committed}`).join(' ');
          console.log(`  group ${g.group}: lag ${g.lag}  (committed ${parts})`);
        }
      }
      return;
    case 'kafka':
      for (const t of listing.topics) {
        console.log(`${t.topic}  partitions=${t.partitions.length}  messages=${t.messages}`);
        for (const p of t.partitions) console.log(`  partition ${p.partition}: offsets ${p.startOffset}..${p.endOffset}`);
        for (const g of t.groups) {
          const parts = g.committed.map((p) => `${p.partition}@${p.committed < 0 ? '-' : p.committed}`).join(' ');
          console.log(`  group ${g.group}: lag ${g.lag}  (committed ${parts})`);
        }
      }
      if (listing.groupsNote) console.log(`(${listing.groupsNote})`);
      return;
    case 'nats':
      for (const s of listing.streams) {
        console.log(`stream ${s.stream}  subjects=${s.subjects.join(',')}  messages=${s.messages}  size=${formatBytes(s.bytes)}  sequence ${s.firstSeq}..${s.lastSeq}`);
        for (const t of s.topics) console.log(`  ${t.topic}: ${t.messages} message(s)`);
        for (const c of s.consumers) console.log(`  consumer ${c.consumer} on ${c.topic}: ${c.pending} pending, ${c.ackPending} unacknowledged`);
      }
      return;
    case 'rabbitmq':
      for (const b of listing.bindings) {
        console.log(`${b.topic} → queue ${b.queue}: ${b.ready} ready, ${b.unacked} unacknowledged, ${b.consumers} consumer(s)`);
      }
      return;
  }
}
