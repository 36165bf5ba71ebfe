import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { CONTENT_TYPE_HEADER } from '../../core/codec.ts';
import { ConfigError } from '../../core/errors.ts';
import { patternProblems } from '../../core/topic.ts';
import type { Message } from '../../core/message.ts';
import { EmbeddedTransport } from '../../transports/embedded/index.ts';
import { deleteThrowawayGroup, describeBroker, ensureReachable, transportFor, withBrokerOptions, type BrokerOptions } from '../broker-choice.ts';
import { wholeNumber } from '../option-parsers.ts';
import { printable } from '../printable.ts';
import { missingTopicProblem } from './missing-topic.ts';

/** The payload as text: decoded when the content type is known, hex otherwise. */
export function describePayload(message: Pick<Message, 'payload' | 'headers'>): string {
  const type = (message.headers[CONTENT_TYPE_HEADER] ?? '').toLowerCase();
  const bytes = Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength);
  if (type.startsWith('application/json') || type.endsWith('+json')) {
    try {
      return JSON.stringify(JSON.parse(bytes.toString('utf8')));
    } catch {
      return `(invalid JSON) ${bytes.toString('utf8')}`;
    }
  }
  if (type.startsWith('text/')) return bytes.toString('utf8');
  const shown = bytes.subarray(0, 64).toString('hex');
  return `${type || 'bytes'} (${bytes.length} B) ${shown}${bytes.length > 64 ? '…' : ''}`;
}

/**
 * `switchyard tail TOPIC` on any broker (`--dir`, `--kafka`, `--rabbitmq`, `--nats`): prints
 * messages as they arrive. Without `--group` it reads as a throwaway group of its own, so it never
 * takes messages from a real group, and deletes that group when it stops (Ctrl-C or `--limit`).
 * On an embedded broker it goes through the owner's socket when another process owns the directory.
 * A topic that does not exist (or a pattern nothing matches) is refused, exit code 1, unless
 * `--create` says to tail it anyway: subscribing would create it (see missing-topic.ts).
 */
export function registerTail(program: Command): void {
  withBrokerOptions(
    program
      .command('tail')
      .description('print the messages of a topic (or pattern, e.g. "orders.>") as they arrive, on an embedded broker, Kafka, RabbitMQ or NATS JetStream')
      .argument('<topic>', 'topic or pattern'),
  )
    .option('--from <where>', 'earliest or latest (for a group that has not consumed yet)', 'latest')
    .option('-g, --group <group>', 'consume as this group (commits its position); default: a throwaway group')
    .option('-n, --limit <n>', 'exit after this many messages', wholeNumber('--limit'))
    .option('--headers', 'print the headers too')
    .option('--create', 'tail a topic that does not exist yet (or a pattern nothing matches yet), creating what subscribing creates on this broker')
    .action(async (topic: string, opts: BrokerOptions & { from: string; group?: string; limit?: number; headers?: boolean; create?: boolean }) => {
      if (opts.from !== 'earliest' && opts.from !== 'latest') throw new ConfigError(`--from must be earliest or latest, got "${opts.from}"`);
      ConfigError.throwIfAny(patternProblems(topic)); // a malformed name is a usage error, not a missing topic
      const throwaway = opts.group === undefined;
      await ensureReachable(opts);
      const bus = transportFor(opts, { throwawayGroups: throwaway });
      const group = opts.group ?? `tail-${process.pid}-${randomBytes(3).toString('hex')}`;
      let seen = 0;
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      try {
        if (!opts.create) {
          const missing = await missingTopicProblem(bus, topic, describeBroker(opts));
          if (missing !== undefined) throw new Error(missing);
        }
        const sub = await bus.subscribe(topic, { group, from: opts.from }, async (m) => {
          if (opts.limit !== undefined && seen >= opts.limit) return;
          seen++;
          const when = new Date(m.timestamp).toISOString();
          const where = m.partition === undefined ? '' : ` ${m.partition}@${m.offset}`;
          const key = m.key === '' ? '' : ` key=${m.key}`;
          const headers = opts.headers ? ` headers=${JSON.stringify(m.headers)}` : '';
          // One line per message, whatever the payload, key or headers hold (escapes, newlines).
          process.stdout.write(`${printable(`${when} ${m.topic}${where}${key} id=${m.id}${headers} ${describePayload(m)}`)}\n`);
          if (opts.limit !== undefined && seen >= opts.limit) stop();
        });
        const role = bus instanceof EmbeddedTransport ? ` (${bus.role})` : '';
        console.error(`tailing ${topic} on ${describeBroker(opts)} as group ${group}${role}; Ctrl-C to stop`);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        await stopped;
        await sub.close();
        if (throwaway) {
          // A throwaway group leaves no trace (no queue filling up, no lag to alert on).
          await deleteThrowawayGroup(bus, topic, group).catch((error: unknown) => {
            console.error(`left the throwaway group ${group} behind: ${(error as Error).message}`);
          });
        }
      } finally {
        await bus.close();
      }
    });
}
