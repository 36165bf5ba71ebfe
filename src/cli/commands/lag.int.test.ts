import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { declareGroup } from '../../core/declare-group.ts';
import { Inbox } from '../../testing/inbox.ts';
import { kafka } from '../../transports/kafka/index.ts';
import { quickConsumer, startOwnCluster, testBrokers, uniqueTopic } from '../../transports/kafka/test-cluster.ts';
import { nats } from '../../transports/nats/index.ts';
import { defaultAmqpUrl, rabbitmq, type RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { cleanUp, natsUrl, runCommand, spawnCli } from './cli.test-support.ts';
import { registerLag } from './lag.ts';

// `switchyard lag` against the real brokers: the table a user gets for groups that fell behind.
const run = randomBytes(4).toString('hex');
const rabbits: RabbitMQTransport[] = [];
const natsTopic = `sy-cli-lag-${run}.orders`;

afterAll(() => cleanUp(rabbits, natsTopic));

/** Runs `switchyard lag ARGS` in this process and returns what it printed. */
const lag = (...args: string[]): Promise<string> => runCommand(registerLag, ['lag', ...args]);

const payloads = (n: number) => Array.from({ length: n }, (_, i) => ({ payload: new Uint8Array([i]) }));

describe('switchyard lag on the brokers', () => {
  it('Kafka: committed offset against the high watermark, per group and partition', async () => {
    const brokers = testBrokers();
    const topic = uniqueTopic('cli-lag');
    const bus = kafka({ brokers, consumer: quickConsumer });
    try {
      await bus.publish(topic, payloads(4));
      const read = new Inbox();
      const sub = await bus.subscribe(topic, { group: 'billing', from: 'earliest' }, async (m) => read.push(m));
      await read.untilCount(4, 20_000);
      await sub.close(); // commits what was handled
      await bus.publish(topic, payloads(3));
    } finally {
      await bus.close();
    }
    const table = await lag('--kafka', brokers.join(','), '--group', 'billing', 'audit', '--topic', topic);
    const rows = table.split('\n');
    expect(rows[0]).toMatch(/^TOPIC +GROUP +LAG +OLDEST +PARTITIONS$/);
    // "audit" never committed: the whole topic is behind; "billing" read the first 4.
    expect(rows[1]).toMatch(new RegExp(`^${topic.replaceAll('.', '\\.')} +audit +7 +- +(\\d+:\\d+ ?)+$`));
    expect(rows[2]).toMatch(new RegExp(`^${topic.replaceAll('.', '\\.')} +billing +3 +- +(\\d+:\\d+ ?)+$`));
  }, 60_000);

  it('Kafka: a group or topic named twice is read once (one row, no clash of lag source names)', async () => {
    const brokers = testBrokers();
    const topic = uniqueTopic('cli-lag-twice');
    const bus = kafka({ brokers, consumer: quickConsumer });
    try {
      await bus.publish(topic, payloads(2));
    } finally {
      await bus.close();
    }
    const table = await lag('--kafka', brokers.join(','), '--group', 'billing', 'billing', '--topic', topic, topic);
    expect(table.split('\n')).toEqual([expect.stringMatching(/^TOPIC +GROUP/), expect.stringMatching(new RegExp(`^${topic.replaceAll('.', '\\.')} +billing +2 `))]);
  }, 60_000);

  it('Kafka: a named topic the cluster does not have is "not found", naming the likely one — and the topics that are there are still read', async () => {
    const brokers = testBrokers();
    const topic = uniqueTopic('cli-lag-known');
    const bus = kafka({ brokers, consumer: quickConsumer });
    try {
      await bus.publish(topic, payloads(2));
    } finally {
      await bus.close();
    }
    const where = `Kafka at ${brokers.join(',')}`;
    const typo = `${topic}x`;
    // One missing topic used to fail every group's reading with the client's "Unknown topic …".
    await expect(lag('--kafka', brokers.join(','), '--group', 'billing', '--topic', topic, typo)).rejects.toThrow(
      new RegExp(`^topic "${typo.replaceAll('.', '\\.')}" not found on ${where.replaceAll('.', '\\.')}; (did you mean "${topic.replaceAll('.', '\\.')}"\\? \\d+ topics there|topics there: .*${topic.replaceAll('.', '\\.')})`),
    );
    await expect(lag('--kafka', brokers.join(','), '--group', 'billing', '--topic', 'sy-cli-lag-none.*')).rejects.toThrow(`no topic on ${where} matches "sy-cli-lag-none.*"`);
    // Through the real CLI: the row of the topic that is there, then the error (exit code 2).
    const { code, stdout, stderr } = await spawnCli(['lag', '--kafka', brokers.join(','), '--group', 'billing', '--topic', topic, typo]).done;
    expect(stdout).toMatch(new RegExp(`^${topic.replaceAll('.', '\\.')} +billing +2 `, 'm'));
    expect(stderr).toMatch(new RegExp(`^switchyard: topic "${typo.replaceAll('.', '\\.')}" not found on `, 'm'));
    expect(stderr).not.toMatch(/Unknown topic/);
    expect(code).toBe(2);
  }, 60_000);

  it('Kafka: a cluster with few topics lists them all in the "not found" line', async () => {
    const cluster = await startOwnCluster();
    try {
      const bus = kafka({ brokers: cluster.brokers, consumer: quickConsumer });
      try {
        await bus.publish('orders.placed', payloads(1));
        await bus.publish('orders.refunded', payloads(1));
      } finally {
        await bus.close();
      }
      await expect(lag('--kafka', cluster.brokers.join(','), '--group', 'billing', '--topic', 'payments')).rejects.toThrow(
        `topic "payments" not found on Kafka at ${cluster.brokers.join(',')}; topics there: orders.placed, orders.refunded`,
      );
    } finally {
      await cluster.stop();
    }
  }, 60_000);

  it('RabbitMQ: the ready messages of each group queue', async () => {
    const bus = rabbitmq({ exchange: `switchyard.cli-lag.${run}` });
    rabbits.push(bus);
    const topic = `cli-lag.${run}.orders`;
    await declareGroup(bus, topic, 'billing');
    await bus.publish(topic, payloads(5));
    const json = JSON.parse(await lag('--rabbitmq', defaultAmqpUrl(), '--group', 'billing', '--topic', topic, '--json')) as unknown[];
    expect(json).toEqual([{ transport: 'rabbitmq', topic, group: 'billing', messages: 5 }]);
  });

  it('NATS JetStream: pending plus ack-pending of each durable consumer', async () => {
    const bus = nats({ mode: 'jetstream' });
    try {
      await declareGroup(bus, natsTopic, 'billing');
      await bus.publish(natsTopic, payloads(6));
    } finally {
      await bus.close();
    }
    expect(await lag('--nats', natsUrl, '--group', 'billing', '--topic', natsTopic)).toMatch(new RegExp(`^${natsTopic.replaceAll('.', '\\.')} +billing +6 +- +-$`, 'm'));
  });

  it('NATS JetStream: a named group with no consumer on the topic is "not found", with the groups that are there — not "no consumer groups"', async () => {
    const topic = `sy-cli-lag-${run}.payments`; // the same stream as natsTopic, removed with it
    const bus = nats({ mode: 'jetstream' });
    try {
      await declareGroup(bus, topic, 'billing');
      await declareGroup(bus, topic, 'audit');
      await bus.publish(topic, payloads(2));
    } finally {
      await bus.close();
    }
    const where = topic.replaceAll('.', '\\.');
    await expect(lag('--nats', natsUrl, '--group', 'biling', '--topic', topic)).rejects.toThrow(
      new RegExp(`^group "biling" not found on topic "${where}" \\(JetStream stream "[^"]+" has no consumer for it\\); groups on "${where}": audit, billing$`),
    );
    // A topic nothing was published to has no stream at all.
    await expect(lag('--nats', natsUrl, '--group', 'billing', '--topic', `sy-cli-lag-none-${run}.orders`)).rejects.toThrow(
      `group "billing" not found on topic "sy-cli-lag-none-${run}.orders" (no JetStream stream holds "sy-cli-lag-none-${run}.orders": nothing was published there)`,
    );
    // Through the real CLI: the groups found are printed, the one not found fails the command (exit code 2).
    const { code, stdout, stderr } = await spawnCli(['lag', '--nats', natsUrl, '--group', 'billing', 'biling', '--topic', topic]).done;
    expect(stdout).toMatch(new RegExp(`^${where} +billing +2 +- +-$`, 'm'));
    expect(stdout).not.toMatch(/no consumer groups/);
    expect(stderr).toMatch(new RegExp(`^switchyard: group "biling" not found on topic "${where}" .*groups on "${where}": audit, billing$`, 'm'));
    expect(code).toBe(2);
  }, 60_000);

  it('RabbitMQ: a named group without a queue is "not found" too, naming the queue looked for', async () => {
    const bus = rabbitmq({ exchange: `switchyard.cli-lag.${run}` });
    rabbits.push(bus);
    const topic = `cli-lag.${run}.refunds`;
    await declareGroup(bus, topic, 'billing');
    const error = `group "biling" not found on topic "${topic}" (RabbitMQ has no queue "${bus.queueFor(topic, 'biling')}")`;
    await expect(lag('--rabbitmq', defaultAmqpUrl(), '--group', 'biling', '--topic', topic)).rejects.toThrow(error);
    await expect(lag('--rabbitmq', defaultAmqpUrl(), '--management', 'http://guest:guest@127.0.0.1:15672', '--group', 'biling', '--topic', topic)).rejects.toThrow(error);
  });

  it('names what is missing, and which broker could not be read', async () => {
    await expect(lag('--kafka', testBrokers().join(','), '--group', 'billing')).rejects.toThrow(/--kafka needs --group and --topic/);
    await expect(lag('--dir', '/tmp', '--nats', natsUrl)).rejects.toThrow(/name one broker: .* \(got --dir and --nats\)/);
    await expect(lag('--kafka', '127.0.0.1:1', '--group', 'g', '--topic', 't')).rejects.toThrow(/lag of group "g": .*ECONNREFUSED/);
  }, 60_000);
});
