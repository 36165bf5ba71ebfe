import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.ts';
import type { Transport } from '../../core/transport.ts';
import { listDeadLetters, type DeadLetter } from '../../router/dlq.ts';
import { chosenBroker, describeBroker, ensureReachable, transportFor, withBrokerOptions, type BrokerOptions } from '../broker-choice.ts';
import { confirm } from '../confirm.ts';
import { DEAD_LETTERS_PER_PASS, replayInPasses } from '../dead-letter-replay.ts';
import { deadLetterTopicExists } from '../dead-letter-topic.ts';
import { interruptOnSignals } from '../interrupt.ts';
import { milliseconds, wholeNumber } from '../option-parsers.ts';
import { likelyTypo } from '../likely-typo.ts';
import { printable, printableJson } from '../printable.ts';
import { topicLister } from './missing-topic.ts';

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

/**
 * What `dlq` says of a dead-letter topic the broker does not have (a typo, or nothing ever failed).
 * When the original topic does not exist either, it names the dead-letter topic there that the
 * mistyped name most likely meant, as the user wrote it (with or without `.dlq`).
 */
async function noSuchTopic(bus: Transport, topic: string, opts: BrokerOptions): Promise<string> {
  const where = `no dead letters: ${describeBroker(opts)} has no ${dlqTopic(topic)}`;
  const original = topic.endsWith('.dlq') ? topic.slice(0, -'.dlq'.length) : topic;
  const names = await topicLister(bus)?.().catch(() => undefined); // the hint is a nicety: no listing, no hint
  const near = names === undefined || names.includes(original) ? undefined : likelyTypo(dlqTopic(topic), names.filter((name) => name.endsWith('.dlq')));
  if (near !== undefined) return `${where} (did you mean "${topic.endsWith('.dlq') ? near : near.slice(0, -'.dlq'.length)}"? \`switchyard topics\` lists what is there)`;
  return `${where} (nothing was dead-lettered from ${topic.endsWith('.dlq') ? 'its topic' : topic}, or the name is wrong: \`switchyard topics\` lists what is there)`;
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
    .option('--json', 'print JSON lines instead of a table (notes go to stderr)')
    .option('--idle <ms>', 'stop reading after this long without a new message', milliseconds('--idle'), 500)
    .option('-n, --limit <n>', 'most dead letters read (the oldest first)', wholeNumber('--limit'), DEAD_LETTERS_PER_PASS)
    .action(async (topic: string, opts: BrokerOptions & { json?: boolean; idle: number; limit: number }) => {
      await ensureReachable(opts);
      // With --json, stdout carries only JSON lines (a script pipes it into jq); words go to stderr.
      const note = (text: string): void => (opts.json ? console.error(text) : console.log(text));
      const bus = transportFor(opts);
      try {
        if (!(await deadLetterTopicExists(bus, dlqTopic(topic)))) {
          note(await noSuchTopic(bus, topic, opts));
          return;
        }
        const letters = await listDeadLetters(bus, dlqTopic(topic), { idleMs: opts.idle, limit: opts.limit });
        if (letters.length === 0) note(`no dead letters in ${dlqTopic(topic)}`);
        for (const d of letters) {
          if (opts.json) {
            const { message, ...rest } = d;
            console.log(printableJson({ ...rest, attempts: attemptsOf(d), key: message.headers['x-original-key'] ?? '', headers: message.headers, bytes: message.payload.length }));
          } else {
            console.log(deadLetterText(d));
          }
        }
        // Reading stops at the limit: the DLQ may hold more, which used to go unmentioned.
        if (letters.length >= opts.limit) console.error(`listed the first ${letters.length} dead letters of ${dlqTopic(topic)}; there may be more (--limit to read more)`);
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
      let noTopic: string | undefined;
      try {
        if (!(await deadLetterTopicExists(bus, dlqTopic(topic)))) noTopic = await noSuchTopic(bus, topic, opts);
      } finally {
        await bus.close();
      }
      if (noTopic !== undefined) {
        console.log(noTopic);
        if (opts.id) {
          console.error(`not found in ${dlqTopic(topic)}: ${opts.id.join(', ')}`);
          process.exitCode = 1;
        }
        return;
      }
      const printed = new Set<string>();
      const report = (id: string): void => {
        if (printed.has(id)) return;
        printed.add(id);
        console.log(printable(`replayed ${id}`));
      };
      // Ctrl-C lets the publishes under way finish and be acknowledged; the rest stays in the DLQ.
      const interrupt = interruptOnSignals(`interrupted: finishing the replays under way; the other dead letters stay in ${dlqTopic(topic)}`);
      let outcome: Awaited<ReturnType<typeof replayInPasses>>;
      try {
        outcome = await replayInPasses(() => transportFor(opts), dlqTopic(topic), { idleMs: opts.idle, signal: interrupt.signal, onReplayed: report, ...(opts.id ? { ids: opts.id } : {}) });
      } finally {
        interrupt.dispose();
      }
      const { replayed, skipped, interrupted } = outcome;
      for (const id of replayed) report(id);
      for (const [id, reason] of skipped) console.error(printable(`not replayed ${id}: ${reason}; it stays in ${dlqTopic(topic)}`));
      console.log(`${replayed.length} message(s) replayed from ${dlqTopic(topic)}${skipped.size > 0 ? `, ${skipped.size} not replayed` : ''}${interrupted ? ' before the interruption' : ''}`);
      if (interrupted) {
        console.error(`interrupted: what was not replayed stays in ${dlqTopic(topic)}; run the command again to replay it`);
        process.exitCode = interrupt.exitCode();
        return;
      }
      const missing = (opts.id ?? []).filter((id) => !replayed.includes(id) && !skipped.has(id));
      if (skipped.size > 0) process.exitCode = 1;
      if (missing.length > 0) {
        console.error(`not found in ${dlqTopic(topic)}: ${missing.join(', ')}`);
        process.exitCode = 1;
      }
    });
}
