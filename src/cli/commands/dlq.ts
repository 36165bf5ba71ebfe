import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.ts';
import { listDeadLetters, replayDeadLetters, type DeadLetter } from '../../router/dlq.ts';
import { chosenBroker, describeBroker, ensureReachable, transportFor, withBrokerOptions, type BrokerOptions } from '../broker-choice.ts';
import { confirm } from '../confirm.ts';
import { deadLetterTopicExists } from '../dead-letter-topic.ts';
import { milliseconds } from '../option-parsers.ts';
import { printable } from '../printable.ts';

/** The dead-letter topic of `topic`: itself when it already ends in `.dlq`. */
function dlqTopic(topic: string): string {
  return topic.endsWith('.dlq') ? topic : `${topic}.dlq`;
}

/**
 * The attempt count as the dead letter's `x-attempts` header gave it: a number, or that header's
 * raw text when it is not one (a foreign writer, a hand edit), rather than NaN (null in JSON).
 */
function attemptsOf(d: DeadLetter): number | string {
  return Number.isFinite(d.attempts) ? d.attempts : (d.message.headers['x-attempts'] ?? '?');
}

/**
 * One dead letter as `dlq list` prints it: a summary line, then the error indented under it —
 * every line of it, so a stack trace's continuation lines do not read as the next entry.
 */
function deadLetterText(d: DeadLetter): string {
  const attempts = attemptsOf(d);
  const summary = `${d.id}  ${d.failedAt}  attempts=${typeof attempts === 'number' ? attempts : JSON.stringify(attempts)}  handler=${d.handler}  ${d.originalTopic}`;
  // Headers come from whoever wrote the dead letter (the error text often quotes the payload):
  // control characters are printed escaped, so they cannot act on the terminal.
  if (d.error === '') return printable(summary); // no x-error header: no blank line under the entry
  return [printable(summary), ...d.error.split(/\r?\n/).map((line) => `    ${printable(line)}`)].join('\n');
}

/** What `dlq` says of a dead-letter topic the broker does not have (a typo, or nothing ever failed). */
function noSuchTopic(topic: string, opts: BrokerOptions): string {
  return `no dead letters: ${describeBroker(opts)} has no ${dlqTopic(topic)} (nothing was dead-lettered from ${topic.endsWith('.dlq') ? 'its topic' : topic}, or the name is wrong: \`switchyard topics\` lists what is there)`;
}

/**
 * `switchyard dlq list <topic> BROKER` and `switchyard dlq replay <topic> BROKER [--id ID… | --all] [--yes]`
 * (BROKER: `--dir DIR`, `--kafka BROKERS`, `--rabbitmq URL` or `--nats URL`): the dead letters of a
 * topic (`<topic>.dlq`, those the `switchyard.dlq` group has not removed), and replaying them to
 * their original topic (each removed from the DLQ only after its publish succeeded). Replaying asks
 * for confirmation on a terminal and refuses without `--yes` when stdin is not one.
 */
export function registerDlq(program: Command): void {
  const dlq = program.command('dlq').description('list and replay dead-lettered messages (embedded, Kafka, RabbitMQ or NATS JetStream)');
  withBrokerOptions(
    dlq
      .command('list')
      .description('list the dead letters of <topic> (reads <topic>.dlq)')
      .argument('<topic>', 'the original topic, or the .dlq topic itself'),
  )
    .option('--json', 'print JSON lines instead of a table')
    .option('--idle <ms>', 'stop reading after this long without a new message', milliseconds('--idle'), 500)
    .action(async (topic: string, opts: BrokerOptions & { json?: boolean; idle: number }) => {
      await ensureReachable(opts);
      const bus = transportFor(opts);
      try {
        if (!(await deadLetterTopicExists(bus, dlqTopic(topic)))) {
          console.log(noSuchTopic(topic, opts));
          return;
        }
        const letters = await listDeadLetters(bus, dlqTopic(topic), { idleMs: opts.idle });
        if (letters.length === 0) console.log(`no dead letters in ${dlqTopic(topic)}`);
        for (const d of letters) {
          if (opts.json) {
            const { message, ...rest } = d;
            console.log(JSON.stringify({ ...rest, attempts: attemptsOf(d), key: message.headers['x-original-key'] ?? '', headers: message.headers, bytes: message.payload.length }));
          } else {
            console.log(deadLetterText(d));
          }
        }
      } finally {
        await bus.close();
      }
    });
  withBrokerOptions(
    dlq
      .command('replay')
      .description('republish dead letters of <topic> to their original topic, then remove them from the DLQ')
      .argument('<topic>', 'the original topic, or the .dlq topic itself'),
  )
    .option('--id <id...>', 'replay only these message ids')
    .option('--all', 'replay every dead letter')
    .option('-y, --yes', 'do not ask for confirmation (needed when stdin is not a terminal)')
    .option('--idle <ms>', 'stop reading after this long without a new message', milliseconds('--idle'), 500)
    .action(async (topic: string, opts: BrokerOptions & { id?: string[]; all?: boolean; idle: number; yes?: boolean }) => {
      chosenBroker(opts);
      if (!opts.all && !opts.id?.length) throw new ConfigError('dlq replay: say which messages: --id <id…> or --all');
      if (opts.all && opts.id?.length) throw new ConfigError('dlq replay: give either --id or --all, not both');
      await ensureReachable(opts); // before asking: a yes to a broker that is not there helps nobody
      const what = opts.all ? 'every dead letter' : `${opts.id!.length} dead letter(s) (${opts.id!.join(', ')})`;
      if (!(await confirm(`dlq replay: republish ${what} of ${dlqTopic(topic)} to the original topic?`, opts.yes))) {
        console.error('dlq replay: not confirmed; nothing replayed');
        process.exitCode = 1;
        return;
      }
      const bus = transportFor(opts);
      try {
        if (!(await deadLetterTopicExists(bus, dlqTopic(topic)))) {
          console.log(noSuchTopic(topic, opts));
          if (opts.id) {
            console.error(`not found in ${dlqTopic(topic)}: ${opts.id.join(', ')}`);
            process.exitCode = 1;
          }
          return;
        }
        const skipped = new Map<string, string>();
        const onSkip = (id: string, reason: string): void => void skipped.set(id, reason);
        const replayed = await replayDeadLetters(bus, dlqTopic(topic), { idleMs: opts.idle, onSkip, ...(opts.id ? { ids: opts.id } : {}) });
        for (const id of replayed) console.log(printable(`replayed ${id}`));
        for (const [id, reason] of skipped) console.error(printable(`not replayed ${id}: ${reason}; it stays in ${dlqTopic(topic)}`));
        const missing = (opts.id ?? []).filter((id) => !replayed.includes(id) && !skipped.has(id));
        console.log(`${replayed.length} message(s) replayed from ${dlqTopic(topic)}${skipped.size > 0 ? `, ${skipped.size} not replayed` : ''}`);
        if (skipped.size > 0) process.exitCode = 1;
        if (missing.length > 0) {
          console.error(`not found in ${dlqTopic(topic)}: ${missing.join(', ')}`);
          process.exitCode = 1;
        }
      } finally {
        await bus.close();
      }
    });
}
