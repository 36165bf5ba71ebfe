import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../../core/errors.ts';
import type { Transport } from '../../core/transport.ts';
import { deadLetter } from '../../middleware/dead-letter.ts';
import { Router } from '../../router/router.ts';
import type { Logger } from '../../router/types.ts';
import { Inbox } from '../../testing/inbox.ts';
import { kafka } from '../../transports/kafka/index.ts';
import { quickConsumer, testBrokers, uniqueTopic } from '../../transports/kafka/test-cluster.ts';
import { nats } from '../../transports/nats/index.ts';
import { defaultAmqpUrl, rabbitmq, type RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { cleanUp, natsUrl, runCommand } from './cli.test-support.ts';
import { registerDlq } from './dlq.ts';

// `switchyard dlq list / replay` against the real brokers, on dead letters a running router made.
const run = randomBytes(4).toString('hex');
const rabbits: RabbitMQTransport[] = [];
const natsTopic = `sy-cli-dlq-${run}.orders`;

afterAll(() => cleanUp(rabbits, natsTopic));

/** Runs `switchyard dlq ARGS` in this process and returns what it printed. */
const dlq = (...args: string[]): Promise<string> => runCommand(registerDlq, ['dlq', ...args]);

const listed = async (topic: string, broker: string[]): Promise<string[]> =>
  (await dlq('list', topic, ...broker, '--idle', '500', '--json'))
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { id: string }).id)
    .sort();

const brokers: Array<{ name: string; app: () => Transport; topic: () => string; cli: () => string[] }> = [
  {
    name: 'RabbitMQ',
    app: () => {
      const bus = rabbitmq();
      rabbits.push(bus);
      return bus;
    },
    topic: () => `cli-dlq.${run}.orders`,
    cli: () => ['--rabbitmq', defaultAmqpUrl()],
  },
  { name: 'NATS JetStream', app: () => nats({ mode: 'jetstream' }), topic: () => natsTopic, cli: () => ['--nats', natsUrl] },
  { name: 'Kafka', app: () => kafka({ brokers: testBrokers(), consumer: quickConsumer }), topic: () => uniqueTopic('cli-dlq'), cli: () => ['--kafka', testBrokers().join(',')] },
];

describe.each(brokers)('switchyard dlq on $name', ({ app, topic: topicOf, cli }) => {
  it('lists the dead letters a router made (nobody read the DLQ before), as often as asked, and replays one, then the rest, to the fixed handler', async () => {
    const bus = app();
    const topic = topicOf();
    let fixed = false;
    const handled = new Inbox();
    const deadLettered = Promise.withResolvers<void>();
    let dead = 0;
    const warn = (line: string): void => void (/dead-lettered message/.test(line) && ++dead === 3 && deadLettered.resolve());
    const logger: Logger = { debug() {}, info() {}, warn, error() {} };
    const router = new Router({ logger, closeTransports: true })
      .use(deadLetter({ maxAttempts: 1 }))
      .handle('bill', { from: bus, topic, group: 'billing', start: 'earliest' }, async (m) => {
        if (!fixed && m.id.startsWith('p-')) throw new PermanentError(`cannot bill ${m.id}`);
        handled.push(m);
      });
    await router.start();
    try {
      await bus.publish(topic, [
        { id: 'ok-1', payload: new Uint8Array([1]) },
        { id: 'p-1', payload: new Uint8Array([2]) },
        { id: 'p-2', payload: new Uint8Array([3]) },
        { id: 'ok-2', payload: new Uint8Array([4]) },
        { id: 'p-3', payload: new Uint8Array([5]) },
      ]);
      await deadLettered.promise;
      await handled.untilCount(2, 20_000);

      expect(await listed(topic, cli())).toEqual(['p-1', 'p-2', 'p-3']);
      expect(await listed(topic, cli())).toEqual(['p-1', 'p-2', 'p-3']); // listing removed nothing
      fixed = true;
      expect(await dlq('replay', topic, ...cli(), '--id', 'p-2', '--idle', '500', '--yes')).toContain(`replayed p-2\n1 message(s) replayed from ${topic}.dlq`);
      await handled.until(() => handled.messages.some((m) => m.id === 'p-2'), 20_000, () => 'p-2 handled after its replay');
      expect(await listed(topic, cli())).toEqual(['p-1', 'p-3']);
      expect(await dlq('replay', topic, ...cli(), '--all', '--idle', '500', '--yes')).toContain('2 message(s) replayed');
      await handled.untilCount(5, 20_000);
      expect(handled.messages.map((m) => m.id).sort()).toEqual(['ok-1', 'ok-2', 'p-1', 'p-2', 'p-3']);
      expect(await dlq('list', topic, ...cli(), '--idle', '500')).toBe(`no dead letters in ${topic}.dlq`);
    } finally {
      await router.stop();
    }
  }, 90_000);
});
