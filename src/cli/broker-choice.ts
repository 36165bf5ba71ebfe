import { readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../core/errors.ts';
import { redactUrl } from '../core/redact.ts';
import type { Transport } from '../core/transport.ts';
import { embedded, EmbeddedTransport } from '../transports/embedded/index.ts';
import { kafka, KafkaTransport } from '../transports/kafka/index.ts';
import { nats, NatsTransport } from '../transports/nats/index.ts';
import { rabbitmq, RabbitMQTransport } from '../transports/rabbitmq/index.ts';

/** The broker options a CLI command takes: exactly one of `dir`, `kafka`, `rabbitmq`, `nats`. */
export interface BrokerOptions {
  dir?: string;
  kafka?: string;
  rabbitmq?: string;
  management?: string;
  nats?: string;
}

export type BrokerKind = 'dir' | 'kafka' | 'rabbitmq' | 'nats';

/** Adds `--dir`, `--kafka`, `--rabbitmq` (with `--management`) and `--nats` to `command`. */
export function withBrokerOptions(command: Command): Command {
  return command
    .option('-d, --dir <dir>', 'an embedded broker: its data directory')
    .option('--kafka <brokers>', 'Kafka: bootstrap brokers, comma-separated')
    .option('--rabbitmq <url>', 'RabbitMQ: AMQP URL')
    .option('--management <url>', 'with --rabbitmq: the management API URL')
    .option('--nats <url>', 'NATS JetStream: server URL');
}

/** Which broker the options name; a ConfigError unless exactly one. */
export function chosenBroker(o: BrokerOptions): BrokerKind {
  const chosen = (['dir', 'kafka', 'rabbitmq', 'nats'] as const).filter((k) => o[k] !== undefined);
  if (chosen.length !== 1) {
    throw new ConfigError(`name one broker: --dir DIR (embedded), --kafka BROKERS, --rabbitmq URL or --nats URL${chosen.length > 1 ? ` (got ${chosen.map((k) => `--${k}`).join(' and ')})` : ''}`);
  }
  if (o.management !== undefined && o.rabbitmq === undefined) throw new ConfigError('--management goes with --rabbitmq');
  return chosen[0]!;
}

/** Where the options point, for a status line (URLs without their credentials). */
export function describeBroker(o: BrokerOptions): string {
  switch (chosenBroker(o)) {
    case 'dir':
      return `the embedded broker in ${o.dir}`;
    case 'kafka':
      return `Kafka at ${kafkaBrokers(o.kafka!).join(',')}`;
    case 'rabbitmq':
      return `RabbitMQ at ${redactUrl(o.rabbitmq!)}`;
    case 'nats':
      return `NATS at ${o.nats!.split(',').map((url) => redactUrl(url.trim())).join(',')}`;
  }
}

/** `--kafka a:9092,b:9092` as a list. */
export function kafkaBrokers(list: string): string[] {
  return list
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** How the CLI connects to the Kafka cluster `--kafka` names. */
export function kafkaConnection(o: BrokerOptions): { brokers: string[]; clientId: string } {
  return { brokers: kafkaBrokers(o.kafka!), clientId: 'switchyard-cli' };
}

/**
 * A transport for the broker the options name (not connected yet; close it after). What a command
 * reads and hands back (a dead letter `dlq list` only looks at) goes straight back to where it
 * was — on RabbitMQ and NATS not through a delayed redelivery, during which the next command would
 * not see it.
 */
export function transportFor(o: BrokerOptions, use: { throwawayGroups?: boolean } = {}): Transport {
  // A throwaway group the command cannot delete (it was killed) removes itself after a minute unread.
  const expiresMs = use.throwawayGroups ? THROWAWAY_EXPIRY_MS : undefined;
  switch (chosenBroker(o)) {
    case 'dir':
      requireEmbeddedDir(o.dir!);
      return embedded({ dir: o.dir! });
    case 'kafka':
      return kafka(kafkaConnection(o));
    case 'rabbitmq':
      return rabbitmq({
        url: o.rabbitmq!,
        redeliveryDelaysMs: [0],
        ...(o.management ? { managementUrl: o.management } : {}),
        ...(expiresMs ? { groupQueue: { expiresMs } } : {}),
      });
    case 'nats':
      return nats({ servers: o.nats!, mode: 'jetstream', consumers: { redeliveryDelayMs: 0, ...(expiresMs ? { inactiveThresholdMs: expiresMs } : {}) } });
  }
}

/**
 * Refuses a `--dir` that holds no embedded broker. Opening one creates its directory, so a
 * mistyped path would leave an empty broker behind and the command would report that there is
 * nothing in it (exit 0). Every broker directory has a `topics/` folder from its first opening on.
 * A directory that holds brokers one level down (`switchyard demo --dir D` keeps `D/broker`) is
 * refused with their paths, which is what the user meant.
 */
export function requireEmbeddedDir(dir: string): void {
  const absent = (path: string): 'missing' | 'file' | undefined => {
    try {
      return statSync(path).isDirectory() ? undefined : 'file';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Anything else (no permission, say) the transport reports as it opens the directory.
      return code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : undefined;
    }
  };
  const dirState = absent(dir);
  if (dirState === 'missing') throw new ConfigError(`no embedded broker in ${dir} (the directory does not exist); check --dir`);
  if (dirState === 'file') throw new ConfigError(`no embedded broker in ${dir} (it is a file, not a directory); check --dir`);
  if (absent(join(dir, 'topics')) === undefined) return;
  // A folder that holds brokers (the demo's --dir keeps broker/, realtime/ and events/): name them.
  const inside = brokersInside(dir);
  const hint = inside.length === 0 ? 'check --dir' : `did you mean ${inside.map((name) => `--dir ${join(dir, name)}`).join(' or ')}?`;
  throw new ConfigError(`no embedded broker in ${dir} (the directory has no topics/ folder); ${hint}`);
}

/** The folders directly inside `dir` that hold an embedded broker (a `topics/` folder), sorted; none when it cannot be read. */
function brokersInside(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((name) => {
      try {
        return statSync(join(dir, name, 'topics')).isDirectory();
      } catch {
        return false;
      }
    })
    .sort();
}

/** How long the reachability probe of {@link ensureReachable} waits for an answer. */
const PROBE_TIMEOUT_MS = 3_000;

/**
 * Checks that the broker the options name is there before a command asks or waits for anything:
 * that `--dir` holds an embedded broker ({@link requireEmbeddedDir}), and that the RabbitMQ
 * server `--rabbitmq` names accepts connections. One that refuses them (or whose host does not
 * resolve) fails at once; the transport would retry for its whole connect timeout (15 s), in
 * silence. One that does not answer at all (a firewall dropping packets) is left to the
 * transport, with a line saying what the command waits for. Kafka and NATS fail within a few
 * seconds on their own.
 */
export async function ensureReachable(o: BrokerOptions, stderr: NodeJS.WritableStream = process.stderr): Promise<void> {
  const kind = chosenBroker(o);
  if (kind === 'dir') requireEmbeddedDir(o.dir!);
  if (kind !== 'rabbitmq') return;
  let url: URL;
  try {
    url = new URL(o.rabbitmq!);
  } catch {
    return; // the transport explains a malformed URL (without printing it: it may hold a password)
  }
  if (url.protocol !== 'amqp:' && url.protocol !== 'amqps:') return;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = Number(url.port || (url.protocol === 'amqps:' ? 5671 : 5672));
  const outcome = await new Promise<NodeJS.ErrnoException | 'connected' | 'timeout'>((resolve) => {
    const socket = connect({ host, port });
    const done = (result: NodeJS.ErrnoException | 'connected' | 'timeout'): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done('timeout'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('connected'));
    socket.once('error', done);
  });
  const where = `RabbitMQ at ${redactUrl(o.rabbitmq!)} (--rabbitmq)`;
  if (outcome === 'connected') return;
  if (outcome === 'timeout') {
    stderr.write(`connecting to ${where}: no answer from ${host}:${port} yet; still trying\n`);
    return;
  }
  throw new Error(`cannot connect to ${where}: ${connectProblem(outcome, 'RabbitMQ', { host, port })}`, { cause: outcome });
}

/**
 * A failed connect in words a user can act on (a client's own message names neither the service
 * nor the option): refused, unknown host, or the error's message. `at` is where it was aimed,
 * when known better than the error's own address (a host name rather than the address it became).
 */
export function connectProblem(error: unknown, service: string, at?: { host: string; port: number }): string {
  const e = error as NodeJS.ErrnoException & { address?: string; port?: number; hostname?: string };
  if (e.code === 'ECONNREFUSED') return `nothing listens on ${at?.host ?? e.address ?? '?'}:${at?.port ?? e.port ?? '?'}; is ${service} running there?`;
  if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') return `host ${at?.host ?? e.hostname ?? '?'} not found; check the URL`;
  return e.message;
}

/** How long a throwaway group's queue (RabbitMQ) or consumer (NATS) outlives its reader. */
export const THROWAWAY_EXPIRY_MS = 60_000;

/**
 * Deletes a command's throwaway group: the embedded group, the RabbitMQ queue, the JetStream
 * consumer or the Kafka group (where the cluster offers DeleteGroups; Kafka drops an empty group's
 * offsets after `offsets.retention.minutes` otherwise, as with kafka-console-consumer's groups).
 */
export async function deleteThrowawayGroup(bus: Transport, topic: string, group: string): Promise<void> {
  if (bus instanceof EmbeddedTransport || bus instanceof KafkaTransport) await bus.deleteGroup(group);
  else if (bus instanceof RabbitMQTransport || bus instanceof NatsTransport) await bus.deleteGroup(topic, group);
}
