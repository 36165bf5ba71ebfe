import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { declareGroup } from '../../core/declare-group.ts';
import type { OutgoingMessage } from '../../core/message.ts';
import { DLQ_GROUP } from '../../router/dlq.ts';
import { ensureDeadLetterGroup } from '../../router/dead-letter-group.ts';
import { defaultAmqpUrl, rabbitmq, type RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { deleteDeclared } from '../../transports/rabbitmq/test-support.ts';
import { spawnCli } from './cli.test-support.ts';

// Ctrl-C in the middle of `dlq replay --all` killed the process at once: every dead letter it had
// republished but not yet acknowledged (thousands: a pass holds them all) stayed in the DLQ, to be
// replayed a second time, and it printed nothing, so nobody knew what had been replayed.
const topic = `sy-cli-dlq-int-${randomBytes(4).toString('hex')}.orders`;
const rabbits: RabbitMQTransport[] = [];
afterAll(() => deleteDeclared(rabbits));
// More than one pass takes (10,000): the interruption comes before the later passes start.
const count = 25_000;

/** Messages waiting in the queue of `group` on `t` (none is held by a consumer once the CLI exited). */
async function depth(bus: RabbitMQTransport, t: string, group: string): Promise<number> {
  return (await bus.native.connection.queueDeclare({ queue: bus.queueFor(t, group), passive: true })).messageCount;
}

it('SIGINT during dlq replay --all: the replays under way finish, the rest stays in the DLQ, each letter is in exactly one place; exit 130', async () => {
  const bus = rabbitmq({ url: defaultAmqpUrl(), redeliveryDelaysMs: [0] });
  rabbits.push(bus);
  await bus.connect();
  await ensureDeadLetterGroup(bus, `${topic}.dlq`);
  await declareGroup(bus, topic, 'audit'); // the original topic keeps what is replayed to it
  const letters: OutgoingMessage[] = [];
  for (let i = 0; i < count; i++) letters.push({ id: `d-${i}`, payload: new TextEncoder().encode(`${i}`), headers: { 'x-original-topic': topic, 'x-handler': 'bill', 'x-attempts': '1', 'x-error': 'Error: boom' } });
  for (let i = 0; i < count; i += 1_000) await bus.publish(`${topic}.dlq`, letters.slice(i, i + 1_000));

  const cli = spawnCli(['dlq', 'replay', topic, '--rabbitmq', defaultAmqpUrl(), '--all', '--yes']);
  await cli.stdoutUntil('replayed d-'); // the replay is under way
  cli.kill('SIGINT');
  const { code, stdout, stderr } = await cli.done;
  expect(stderr).toContain(`interrupted: what was not replayed stays in ${topic}.dlq; run the command again to replay it`);
  const summary = new RegExp(`^(\\d+) message\\(s\\) replayed from ${topic.replaceAll('.', '\\.')}\\.dlq before the interruption$`, 'm').exec(stdout);
  expect(summary, stdout.slice(-300)).not.toBeNull();
  const replayed = Number(summary![1]);
  expect(replayed).toBeLessThanOrEqual(10_000);
  expect(stdout.split('\n').filter((l) => l.startsWith('replayed d-'))).toHaveLength(replayed);
  expect(code).toBe(130);

  // Nothing lost, nothing twice: each letter is either replayed (once) or still a dead letter.
  expect(await depth(bus, topic, 'audit')).toBe(replayed);
  expect(await depth(bus, `${topic}.dlq`, DLQ_GROUP)).toBe(count - replayed);
}, 120_000);
