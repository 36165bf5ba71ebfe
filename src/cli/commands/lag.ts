import { createServer, type Server } from 'node:http';
import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { ConfigError } from '../../core/errors.ts';
import type { Transport } from '../../core/transport.ts';
import { lagMonitor, type LagReading, type LagSource } from '../../observability/lag.ts';
import { embeddedLagSource, kafkaLagSource, natsLagSource, rabbitmqLagSource } from '../../observability/lag-sources.ts';
import { metricsHandler } from '../../observability/metrics-handler.ts';
import { embedded } from '../../transports/embedded/index.ts';
import { nats } from '../../transports/nats/index.ts';
import { rabbitmq } from '../../transports/rabbitmq/index.ts';

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

const positive = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number, got "${v}"`);
  return n;
};

/** Where `switchyard lag` reads: exactly one broker option. */
interface BrokerChoice {
  dir?: string;
  kafka?: string;
  rabbitmq?: string;
  management?: string;
  nats?: string;
  group?: string[];
  topic?: string[];
}

/**
 * The lag sources for the chosen broker, and the transport to close afterwards. An embedded data
 * directory lists its groups itself; on Kafka, RabbitMQ and NATS the groups and topics are named
 * (a broker holds many applications' groups, and RabbitMQ and NATS keep no list of ours).
 */
export function lagSources(o: BrokerChoice): { sources: LagSource[]; bus?: Transport } {
  const chosen = (['dir', 'kafka', 'rabbitmq', 'nats'] as const).filter((k) => o[k] !== undefined);
  if (chosen.length !== 1) {
    throw new ConfigError(`name one broker to read lag from: --dir DIR (embedded), --kafka BROKERS, --rabbitmq URL or --nats URL${chosen.length > 1 ? ` (got ${chosen.map((k) => `--${k}`).join(' and ')})` : ''}`);
  }
  if (o.management !== undefined && o.rabbitmq === undefined) throw new ConfigError('--management goes with --rabbitmq');
  if (o.dir !== undefined) {
    const bus = embedded({ dir: o.dir });
    return { sources: [embeddedLagSource(bus, { ...(o.group ? { groups: o.group } : {}), ...(o.topic ? { topics: o.topic } : {}) })], bus };
  }
  const broker = chosen[0]!;
  if (!o.group?.length || !o.topic?.length) {
    throw new ConfigError(`--${broker} needs --group and --topic: which consumer groups, on which topics (e.g. --group billing --topic orders.placed)`);
  }
  const pairs = o.topic.flatMap((topic) => o.group!.map((group) => ({ topic, group })));
  if (o.kafka !== undefined) {
    const brokers = o.kafka.split(',').map((b) => b.trim()).filter(Boolean);
    return { sources: o.group.map((group) => kafkaLagSource({ brokers, clientId: 'switchyard-lag' }, group, o.topic!)) };
  }
  if (o.rabbitmq !== undefined) {
    const bus = rabbitmq({ url: o.rabbitmq, ...(o.management ? { managementUrl: o.management } : {}) });
    return { sources: [rabbitmqLagSource(bus, pairs)], bus };
  }
  const bus = nats({ servers: o.nats!, mode: 'jetstream' });
  return { sources: [natsLagSource(bus, pairs)], bus };
}

/**
 * `switchyard lag --dir DIR | --kafka BROKERS | --rabbitmq URL | --nats URL`: each consumer
 * group's lag, as a table (or JSON). `--watch` samples every `--interval` ms, prints `lag.high` /
 * `lag.recovered` as groups cross `--high` (recovering at half of it) and, with `--metrics-port`,
 * serves the lag gauges at /metrics.
 */
export function registerLag(program: Command): void {
  program
    .command('lag')
    .description('show consumer lag per topic and group (embedded, Kafka, RabbitMQ or NATS JetStream); --watch to follow it and alert on a threshold')
    .option('-d, --dir <dir>', 'an embedded broker: its data directory')
    .option('--kafka <brokers>', 'Kafka: bootstrap brokers, comma-separated (committed offset vs high watermark)')
    .option('--rabbitmq <url>', 'RabbitMQ: AMQP URL (ready messages of each group queue)')
    .option('--management <url>', 'with --rabbitmq: management API URL, to count unacknowledged messages too')
    .option('--nats <url>', 'NATS JetStream: server URL (pending + ack-pending of each durable consumer)')
    .option('-g, --group <groups...>', 'these groups (embedded: a filter; required for the others)')
    .option('-t, --topic <topics...>', 'these topics (embedded: a filter; required for the others)')
    .option('-w, --watch', 'sample repeatedly until Ctrl-C')
    .option('--interval <ms>', 'time between samples with --watch', positive('--interval'), 5_000)
    .option('--high <messages>', 'with --watch: report lag.high at this many messages behind', positive('--high'), 10_000)
    .option('--metrics-port <port>', 'with --watch: serve switchyard_consumer_lag_* at http://0.0.0.0:PORT/metrics', (v) => Number.parseInt(v, 10))
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: BrokerChoice & { watch?: boolean; interval: number; high: number; metricsPort?: number; json?: boolean }) => {
      if (opts.metricsPort !== undefined && !(opts.metricsPort >= 0 && opts.metricsPort < 65_536)) throw new ConfigError(`--metrics-port must be a port number, got ${opts.metricsPort}`);
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
          server = createServer(metricsHandler({ registry }));
          await new Promise<void>((resolve) => server!.listen(opts.metricsPort, resolve));
          console.error(`serving lag metrics at http://0.0.0.0:${opts.metricsPort}/metrics`);
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
