import type { Server } from 'node:http';
import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { ConfigError } from '../../core/errors.ts';
import type { Transport } from '../../core/transport.ts';
import { lagMonitor, type LagReading, type LagSource } from '../../observability/lag.ts';
import { embeddedLagSource, kafkaLagSource, natsLagSource, rabbitmqLagSource } from '../../observability/lag-sources.ts';
import { metricsHandler } from '../../observability/metrics-handler.ts';
import type { EmbeddedTransport } from '../../transports/embedded/index.ts';
import type { NatsTransport } from '../../transports/nats/index.ts';
import type { RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { chosenBroker, ensureReachable, kafkaConnection, transportFor, withBrokerOptions, type BrokerOptions } from '../broker-choice.ts';
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
 * The lag sources for the chosen broker, and the transport to close afterwards. An embedded data
 * directory lists its groups itself; on Kafka, RabbitMQ and NATS the groups and topics are named
 * (a broker holds many applications' groups, and RabbitMQ and NATS keep no list of ours).
 */
export function lagSources(o: LagChoice): { sources: LagSource[]; bus?: Transport } {
  const broker = chosenBroker(o);
  if (broker === 'dir') {
    const bus = transportFor(o) as EmbeddedTransport;
    return { sources: [embeddedLagSource(bus, { ...(o.group ? { groups: o.group } : {}), ...(o.topic ? { topics: o.topic } : {}) })], bus };
  }
  if (!o.group?.length || !o.topic?.length) {
    throw new ConfigError(
      `--${broker} needs --group and --topic: which consumer groups, on which topics (e.g. --group billing --topic orders.placed); \`switchyard topics --${broker} …\` shows what is there`,
    );
  }
  if (broker === 'kafka') return { sources: o.group.map((group) => kafkaLagSource(kafkaConnection(o), group, o.topic!)) };
  const pairs = o.topic.flatMap((topic) => o.group!.map((group) => ({ topic, group })));
  if (broker === 'rabbitmq') {
    const bus = transportFor(o) as RabbitMQTransport;
    return { sources: [rabbitmqLagSource(bus, pairs)], bus };
  }
  const bus = transportFor(o) as NatsTransport;
  return { sources: [natsLagSource(bus, pairs)], bus };
}

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
      const { sources, bus } = lagSources(opts);
      const registry = new Registry();
      const monitor = lagMonitor({
        sources,
        intervalMs: opts.interval,
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
          print(readings);
          return;
        }
        monitor.on((e) => {
          const when = new Date(e.at).toISOString();
          if (e.type === 'lag.error') console.error(`${when} lag.error ${e.source}: ${e.error.message}`);
          else console.log(`${when} ${e.type} ${e.reading.topic} ${e.reading.group}: ${e.reading.messages} behind`);
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
        while (!stop.signal.aborted) {
          print(await monitor.sample());
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, opts.interval);
            stop.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
          });
        }
      } finally {
        server?.close();
        await bus?.close();
      }
    });
}
