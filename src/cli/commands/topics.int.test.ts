import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { declareGroup } from '../../core/declare-group.ts';
import { isConfigError } from '../../core/errors.ts';
import { kafka } from '../../transports/kafka/index.ts';
import { mockControl, testBrokers, uniqueTopic, usingMock } from '../../transports/kafka/test-cluster.ts';
import { nats } from '../../transports/nats/index.ts';
import { defaultAmqpUrl, rabbitmq, type RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { cleanUp, natsUrl, runCommand } from './cli.test-support.ts';
import { registerTopics } from './topics.ts';

// `switchyard topics` against the real brokers: what a user sees of topics and groups.
const run = randomBytes(4).toString('hex');
const rabbits: RabbitMQTransport[] = [];
const natsTopic = `sy-cli-topics-${run}.orders.placed`;

afterAll(() => cleanUp(rabbits, natsTopic));

const topics = (...args: string[]): Promise<string> => runCommand(registerTopics, ['topics', ...args]);
const payloads = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, payload: new Uint8Array([i]) }));

describe('switchyard topics on the brokers', () => {
  it('Kafka: partitions with their offsets and the message count; says why groups are missing where the cluster cannot list them', async () => {
    const brokers = testBrokers();
    const topic = uniqueTopic('cli-topics');
    if (usingMock()) await mockControl(`create-topic ${topic} 3 1`);
    const bus = kafka({ brokers });
    try {
      await bus.publish(topic, payloads(5));
    } finally {
      await bus.close();
    }
    const table = await topics('--kafka', brokers.join(','), topic);
    const rows = table.split('\n');
    expect(rows[0]).toBe(`${topic}  partitions=3  messages=5`);
    expect(rows.filter((r) => /^ {2}partition \d: offsets 0\.\.\d+$/.test(r))).toHaveLength(3);
    if (usingMock()) expect(table).toMatch(/groups not shown: .*ListGroups/);
    const json = JSON.parse(await topics('--kafka', brokers.join(','), topic, '--json')) as { topics: Array<{ topic: string; messages: number }> };
    expect(json.topics.map((t) => [t.topic, t.messages])).toEqual([[topic, 5]]);
  }, 60_000);

  it('NATS JetStream: the stream, messages per topic, and each group consumer with what it has pending', async () => {
    const bus = nats({ servers: natsUrl, mode: 'jetstream' });
    try {
      await declareGroup(bus, `sy-cli-topics-${run}.orders.>`, 'billing');
      await bus.publish(natsTopic, payloads(4));
      await bus.publish(`sy-cli-topics-${run}.orders.paid`, payloads(2));
    } finally {
      await bus.close();
    }
    const table = await topics('--nats', natsUrl, `sy-cli-topics-${run}.>`);
    expect(table).toMatch(new RegExp(`^stream \\S+  subjects=sy-cli-topics-${run}.*  messages=6  size=`));
    expect(table).toContain(`  ${natsTopic}: 4 message(s)`);
    expect(table).toContain(`  sy-cli-topics-${run}.orders.paid: 2 message(s)`);
    expect(table).toMatch(new RegExp(`  consumer billing__\\S+ on sy-cli-topics-${run}\\.orders\\.>: 6 pending, 0 unacknowledged`));
  }, 60_000);

  it('RabbitMQ: the topic exchange bindings and their group queues with depth, through the management API', async () => {
    const url = defaultAmqpUrl();
    const bus = rabbitmq({ url });
    rabbits.push(bus);
    const pattern = `sy-cli-topics-${run}.orders.*`;
    await declareGroup(bus, pattern, 'billing');
    await bus.publish(`sy-cli-topics-${run}.orders.placed`, payloads(3));
    const management = 'http://127.0.0.1:15672'; // enabled by npm run services
    const line = `${pattern} → queue ${bus.queueFor(pattern, 'billing')}: 3 ready, 0 unacknowledged, 0 consumer(s)`;
    // The management API refreshes queue statistics every few seconds: read until they caught up.
    await expect.poll(() => topics('--rabbitmq', url, '--management', management, `sy-cli-topics-${run}.>`), { timeout: 30_000, interval: 500 }).toContain(line);
    const refused = await topics('--rabbitmq', url).catch((e: unknown) => e);
    expect(isConfigError(refused) && refused.message).toMatch(/management API: add --management URL/);
  }, 60_000);
});
