import type { Server } from 'node:http';
import { Admin } from '@platformatic/kafka';
import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { ConfigError } from '../../core/errors.ts';
import { isPattern, topicMatcher } from '../../core/topic.ts';
import { lagMonitor, type LagReading, type LagSource } from '../../observability/lag.ts';
import { embeddedLagSource, kafkaLagSource, natsLagSource, rabbitmqLagSource } from '../../observability/lag-sources.ts';
import { metricsHandler } from '../../observability/metrics-handler.ts';
import type { EmbeddedTransport } from '../../transports/embedded/index.ts';
import { toKafkaError } from '../../transports/kafka/errors.ts';
import { baseClientOptions, resolveKafkaOptions } from '../../transports/kafka/options.ts';
import { consumerName, type NatsTransport } from '../../transports/nats/index.ts';
import { natsError } from '../../transports/nats/errors.ts';
import type { RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { chosenBroker, describeBroker, ensureReachable, kafkaConnection, transportFor, withBrokerOptions, type BrokerOptions } from '../broker-choice.ts';
import { likelyTypo } from '../likely-typo.ts';
import { serveMetrics } from '../metrics-server.ts';
import { milliseconds, portNumber, positiveNumber } from '../option-parsers.ts';

/** Readings as an aligned text table, one row per topic and group, most behind first. */
export function lagTable(readings: readonly LagReading[]): string {
  if (readings.length === 0) return 'no consumer groups';
  const rows = readings
    .toSorted((a, b) => b.messages - a.messages || a.topic.localeCompare(b.topic) || a.group.localeCompare(b.group))
    .map((r) => [
      r.topic,
      r.group,
      String(r.messages),
      r.oldestAgeMs === undefined ? '-' : `${(r.oldestAgeMs / 1000).toFixed(1)} s`,
      (r.partitions ?? []).map((p) => `${p.partition}:${p.messages}`).join(' ') || '-',
    ]);
  const header = ['TOPIC', 'GROUP', 'LAG', 'OLDEST', 'PARTITIONS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Where `switchyard lag` reads, and which groups and topics. */
interface LagChoice extends BrokerOptions {
  group?: string[];
  topic?: string[];
}

/**
 * What `lagSources` sets up: the sources, what to close afterwards, and how to say which named
 * groups and topics the readings lack (one line each, with what is there instead).
 */
export interface LagSetup {
  sources: LagSource[];
  /** Closes the transport or client the sources read through. */
  close(): Promise<void>;
  notFound(readings: readonly LagReading[]): Promise<string[]>;
}

/**
 * The lag sources for the chosen broker, and the transport to close afterwards. An embedded data
 * directory lists its groups itself; on Kafka, RabbitMQ and NATS the groups and topics are named
 * (a broker holds many applications' groups, and RabbitMQ and NATS keep no list of ours).
 */
export function lagSources(choice: LagChoice): LagSetup {
  // A group or topic named twice is read once: twice would print its row twice, and on Kafka
  // give two sources the same name, which the lag monitor refuses.
  const o: LagChoice = { ...choice, ...(choice.group ? { group: [...new Set(choice.group)] } : {}), ...(choice.topic ? { topic: [...new Set(choice.topic)] } : {}) };
  const broker = chosenBroker(o);
  if (broker === 'dir') {
    const bus = transportFor(o) as EmbeddedTransport;
    const sources = [embeddedLagSource(bus, { ...(o.group ? { groups: o.group } : {}), ...(o.topic ? { topics: o.topic } : {}) })];
    return { sources, close: () => bus.close(), notFound: () => (o.group || o.topic ? embeddedNotFound(bus, o) : Promise.resolve([])) };
  }
  if (!o.group?.length || !o.topic?.length) {
    throw new ConfigError(
      `--${broker} needs --group and --topic: which consumer groups, on which topics (e.g. --group billing --topic orders.placed); \`switchyard topics --${broker} …\` shows what is there`,
    );
  }
  if (broker === 'kafka') return kafkaSetup(o, o.group, o.topic);
  const pairs = o.topic.flatMap((topic) => o.group!.map((group) => ({ topic, group })));
  const missing = (readings: readonly LagReading[]) => pairs.filter((p) => !readings.some((r) => r.topic === p.topic && r.group === p.group));
  if (broker === 'rabbitmq') {
    const bus = transportFor(o) as RabbitMQTransport;
    return {
      sources: [rabbitmqLagSource(bus, pairs)],
      close: () => bus.close(),
      // RabbitMQ lists queues only through the management API: say which queue is missing instead.
      notFound: async (readings) => missing(readings).map(({ topic, group }) => `group "${group}" not found on topic "${topic}" (RabbitMQ has no queue "${bus.queueFor(topic, group)}")`),
    };
  }
  const bus = transportFor(o) as NatsTransport;
  return { sources: [natsLagSource(bus, pairs)], close: () => bus.close(), notFound: (readings) => natsNotFound(bus, missing(readings)) };
}

/**
 * Kafka: the groups' lag through one admin client. A named topic the cluster does not have is
 * left out of the readings and reported as not found, as on the other brokers: asked for with the
 * others, it would fail every group's reading ("Unknown topic") and hide the topics that are there.
 * A group that never committed is reported with the whole topic behind: telling it from a group
 * that does not exist takes DescribeGroups, which the mock cluster the tests run on does not answer.
 */
function kafkaSetup(o: LagChoice, groups: readonly string[], topics: readonly string[]): LagSetup {
  const admin = new Admin(baseClientOptions(resolveKafkaOptions(kafkaConnection(o)), 'lag'));
  // The groups' sources are read together, once a sample: they share one listing.
  let listing: Promise<string[]> | undefined;
  const topicsThere = (): Promise<string[]> => (listing ??= admin.listTopics().finally(() => (listing = undefined)));
  const sources = groups.map((group): LagSource => ({
    name: `kafka:${group}`,
    async read() {
      let there: string[];
      try {
        there = await topicsThere();
      } catch (error) {
        // listTopics wraps the Metadata request's error in one that adds nothing ("Listing topics
        // failed."); without it the message keeps the reason, three errors down (ECONNREFUSED …).
        const errors = (error as Partial<AggregateError> | null)?.errors;
        throw toKafkaError(`lag of group "${group}"`, Array.isArray(errors) && errors.length === 1 ? errors[0] : error);
      }
      // A pattern stands for the topics that match it now (kafkaLag lists them).
      const present = topics.filter((t) => isPattern(t) || there.includes(t));
      return present.length > 0 ? kafkaLagSource({ admin }, group, present).read() : [];
    },
  }));
  return {
    sources,
    close: () => admin.close(),
    notFound: async () => {
      const there = await topicsThere(); // without Kafka's own (__consumer_offsets …)
      const where = describeBroker(o);
      return topics.flatMap((t) => {
        if (isPattern(t)) return there.some(topicMatcher(t)) ? [] : [`no topic on ${where} matches "${t}"; ${kafkaTopicList(t, there, o.kafka!)}`];
        return there.includes(t) ? [] : [`topic "${t}" not found on ${where}; ${kafkaTopicList(t, there, o.kafka!)}`];
      });
    },
  };
}

/** Topic names listed in a "not found" line at most: a cluster may hold thousands. */
const LISTED_TOPICS = 10;

/** The topics a cluster holds, for a "not found" line: all of a few, else the likely typo and how many. */
function kafkaTopicList(topic: string, there: readonly string[], brokers: string): string {
  if (there.length <= LISTED_TOPICS) return `topics there: ${list(there)}`;
  const near = isPattern(topic) ? undefined : likelyTypo(topic, there);
  return `${near !== undefined ? `did you mean "${near}"? ` : ''}${there.length} topics there (\`switchyard topics --kafka ${brokers}\` lists them)`;
}

/** Named groups without a durable consumer on their topic, and the groups that have one there. */
async function natsNotFound(bus: NatsTransport, missing: ReadonlyArray<{ topic: string; group: string }>): Promise<string[]> {
  const lines: string[] = [];
  for (const { topic, group } of missing) {
    const located = await bus.locate(topic, group);
    if (!located) {
      lines.push(`group "${group}" not found on topic "${topic}" (no JetStream stream holds "${topic}": nothing was published there)`);
      continue;
    }
    const groups: string[] = [];
    try {
      for await (const c of located.manager.consumers.list(located.stream)) {
        if (c.config.filter_subject === topic) groups.push(groupOf(c.name, topic));
      }
    } catch (error) {
      throw natsError(`cannot list the consumers of stream "${located.stream}"`, error);
    }
    lines.push(`group "${group}" not found on topic "${topic}" (JetStream stream "${located.stream}" has no consumer for it); ${groupList(topic, groups)}`);
  }
  return lines;
}

/**
 * The group a durable consumer belongs to. Its name is the group and topic made safe for NATS,
 * cut at 48 characters, and a hash: when that gives the name back, the group is known; otherwise
 * (a group with other characters, or a consumer Switchyard did not create) the consumer's name is shown.
 */
function groupOf(consumer: string, topic: string): string {
  const candidate = consumer.replace(/_[0-9a-f]{12}$/, '');
  const suffix = `__${topic}`.replace(/[^A-Za-z0-9_-]/g, '_');
  const group = candidate.endsWith(suffix) ? candidate.slice(0, -suffix.length) : undefined;
  return group !== undefined && consumerName(group, topic) === consumer ? group : `consumer ${consumer}`;
}

/** Named groups and topics an embedded directory does not hold, and what it holds instead. */
async function embeddedNotFound(bus: EmbeddedTransport, o: LagChoice): Promise<string[]> {
  const topics = await bus.inspect();
  const lines: string[] = [];
  const named = topics.filter((t) => o.topic?.includes(t.topic));
  for (const topic of o.topic ?? []) {
    if (!topics.some((t) => t.topic === topic)) lines.push(`topic "${topic}" not found in ${o.dir}; topics there: ${list(topics.map((t) => t.topic))}`);
  }
  for (const group of o.group ?? []) {
    if (o.topic) {
      for (const t of named) if (!t.groups.some((g) => g.group === group)) lines.push(`group "${group}" not found on topic "${t.topic}"; ${groupList(t.topic, t.groups.map((g) => g.group))}`);
    } else if (!topics.some((t) => t.groups.some((g) => g.group === group))) {
      lines.push(`group "${group}" not found in ${o.dir}; groups there: ${list([...new Set(topics.flatMap((t) => t.groups.map((g) => g.group)))])}`);
    }
  }
  return lines;
}

const list = (names: readonly string[]): string => (names.length > 0 ? names.toSorted().join(', ') : 'none');
const groupList = (topic: string, groups: readonly string[]): string => `groups on "${topic}": ${list(groups)}`;

/**
 * `switchyard lag --dir DIR | --kafka BROKERS | --rabbitmq URL | --nats URL`: each consumer
 * group's lag, as a table (or JSON). `--watch` samples every `--interval` ms, prints `lag.high` /
 * `lag.recovered` as groups cross `--high` (recovering at half of it) and, with `--metrics-port`,
 * serves the lag gauges at /metrics.
 */
export function registerLag(program: Command): void {
  withBrokerOptions(
    program
      .command('lag')
      .description('show consumer lag per topic and group (embedded, Kafka, RabbitMQ or NATS JetStream); --watch to follow it and alert on a threshold'),
  )
    .option('-g, --group <groups...>', 'these groups (embedded: a filter; required for the others)')
    .option('-t, --topic <topics...>', 'these topics (embedded: a filter; required for the others)')
    .option('-w, --watch', 'sample repeatedly until Ctrl-C')
    .option('--interval <ms>', 'time between samples with --watch', milliseconds('--interval'), 5_000)
    .option('--high <messages>', 'with --watch: report lag.high at this many messages behind', positiveNumber('--high'), 10_000)
    .option('--metrics-port <port>', 'with --watch: serve switchyard_consumer_lag_* at http://HOST:PORT/metrics', portNumber('--metrics-port'))
    .option('--metrics-host <host>', 'where --metrics-port listens; other than loopback needs $SWITCHYARD_DASHBOARD_TOKEN', '127.0.0.1')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: LagChoice & { watch?: boolean; interval: number; high: number; metricsPort?: number; metricsHost: string; json?: boolean }) => {
      // One reading is printed and the process ends before anything could scrape it.
      if (opts.metricsPort !== undefined && !opts.watch) throw new ConfigError('--metrics-port goes with --watch: without it lag prints one reading and exits; add --watch');
      const { sources, close, notFound } = lagSources(opts);
      const registry = new Registry();
      const monitor = lagMonitor({
        sources,
        intervalMs: opts.interval,
        // Watching, a broker that went away shows as lag.error within a sample or so, not after 10 s.
        ...(opts.watch ? { readTimeoutMs: Math.max(opts.interval, 5_000) } : {}),
        high: { messages: opts.high },
        registry,
      });
      const print = (readings: readonly LagReading[]): void => {
        console.log(opts.json ? JSON.stringify(readings, null, 2) : lagTable(readings));
      };
      let server: Server | undefined;
      try {
        await ensureReachable(opts);
        if (!opts.watch) {
          // One reading: a source that cannot be read fails the command rather than print an empty table.
          const errors: Error[] = [];
          monitor.on((e) => void (e.type === 'lag.error' && errors.push(e.error)));
          const readings = await monitor.sample();
          if (errors.length > 0) throw errors[0]!;
          // A group or topic the user named that the broker does not have fails the command, saying
          // so, rather than print "no consumer groups" or leave a row out as if nothing were wrong.
          const missing = await notFound(readings);
          if (missing.length > 0) {
            if (readings.length > 0) print(readings);
            throw new ConfigError(missing);
          }
          print(readings);
          return;
        }
        let unread = 0; // sources that could not be read in this sample
        monitor.on((e) => {
          const when = new Date(e.at).toISOString();
          if (e.type === 'lag.error') {
            unread++;
            console.error(`${when} lag.error ${e.source}: ${e.error.message}`);
          } else console.log(`${when} ${e.type} ${e.reading.topic} ${e.reading.group}: ${e.reading.messages} behind`);
        });
        if (opts.metricsPort !== undefined) {
          let url: string;
          let token: boolean;
          ({ server, url, token } = await serveMetrics(metricsHandler({ registry }), opts.metricsPort, opts.metricsHost));
          console.error(`serving lag metrics at ${url}${token ? ' (Authorization: Bearer $SWITCHYARD_DASHBOARD_TOKEN)' : ''}`);
        }
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        process.once('SIGTERM', () => stop.abort());
        // Watching, a named group may yet appear (its consumer not started yet): say so when that changes.
        let reported = '';
        while (!stop.signal.aborted) {
          unread = 0;
          const readings = await monitor.sample();
          // A broker that cannot be read has no table to show ("no consumer groups" would be
          // wrong), and says nothing of which groups are there: its lag.error line says why.
          if (unread < sources.length) print(readings);
          if (unread === 0) {
            const missing = (await notFound(readings).catch(() => [])).join('\n');
            if (missing !== reported && missing !== '') console.error(missing);
            reported = missing;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, opts.interval);
            stop.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
          });
        }
      } finally {
        server?.close();
        await close();
      }
    });
}
