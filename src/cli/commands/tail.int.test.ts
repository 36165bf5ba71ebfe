import { randomBytes } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, describe, expect, it } from 'vitest';
import { json } from '../../codecs/json.ts';
import { text } from '../../codecs/raw.ts';
import type { Transport } from '../../core/transport.ts';
import { kafka } from '../../transports/kafka/index.ts';
import { testBrokers, uniqueTopic, usingMock } from '../../transports/kafka/test-cluster.ts';
import { consumerName, nats } from '../../transports/nats/index.ts';
import { defaultAmqpUrl, rabbitmq, type RabbitMQTransport } from '../../transports/rabbitmq/index.ts';
import { cleanUp, natsUrl, spawnCli } from './cli.test-support.ts';

// `switchyard tail` against the real brokers, as its own process: it prints what is published
// after it started, decoded, and removes its throwaway group when it stops.
const run = randomBytes(4).toString('hex');
const rabbits: RabbitMQTransport[] = [];
const natsTopic = `sy-cli-tail-${run}.orders.placed`;

afterAll(() => cleanUp(rabbits, natsTopic));

/** Tails `pattern` with `--limit 3`, publishes three messages through `bus` once it listens, and returns what tail printed and its group. */
async function tailThree(args: string[], pattern: string, bus: Transport, topic: string): Promise<{ lines: string[]; stderr: string; group: string }> {
  const tail = spawnCli(['tail', pattern, ...args, '--limit', '3', '--headers']);
  const status = await tail.stderrUntil('Ctrl-C to stop');
  const group = /as group (\S+)/.exec(status)![1]!;
  const order = json<{ orderId: string; total: number }>();
  await bus.publish(topic, order.encode({ orderId: 'o-1', total: 42 }, { key: 'c-1', headers: { region: 'eu' } }));
  await bus.publish(topic, text().encode('hello from the test'));
  await bus.publish(topic, { id: 'raw-1', payload: Uint8Array.of(1, 2, 255) });
  const { code, stdout, stderr } = await tail.done;
  expect(code, stderr).toBe(0);
  const lines = stdout.trim().split('\n');
  expect(lines).toHaveLength(3);
  // One line per message; on Kafka they may sit on different partitions, so in any order.
  const line = (content: string): string => lines.find((l) => l.includes(content)) ?? `no line with ${content} in:\n${stdout}`;
  expect(line('{"orderId":"o-1","total":42}')).toContain('key=c-1');
  expect(line('{"orderId":"o-1","total":42}')).toContain('"region":"eu"');
  expect(line('hello from the test')).toContain('text/plain');
  expect(line('id=raw-1')).toContain('0102ff');
  for (const line of lines) expect(line).toContain(` ${topic}`);
  return { lines, stderr, group };
}

describe('switchyard tail on the brokers', () => {
  it('RabbitMQ: prints what arrives on a pattern, then deletes its throwaway queue', async () => {
    const url = defaultAmqpUrl();
    const bus = rabbitmq({ url });
    rabbits.push(bus);
    const topic = `sy-cli-tail-${run}.orders.placed`;
    const { stderr, group } = await tailThree(['--rabbitmq', url], `sy-cli-tail-${run}.orders.*`, bus, topic);
    expect(stderr).not.toContain('guest:guest'); // the URL is shown without its password
    const queue = bus.queueFor(`sy-cli-tail-${run}.orders.*`, group);
    const probe = new Connection({ url, connectionName: 'switchyard tail test probe' });
    probe.on('error', () => undefined);
    try {
      const missing = await probe.queueDeclare({ queue, passive: true }).catch((error: unknown) => error);
      expect(String(missing)).toMatch(/NOT_FOUND|no queue/i);
    } finally {
      await probe.close();
    }
  }, 60_000);

  it('NATS JetStream: prints what arrives, then deletes its throwaway consumer', async () => {
    const bus = nats({ servers: natsUrl, mode: 'jetstream' });
    try {
      await bus.connect();
      // Nothing was published to the topic yet: --create, or tail refuses it as missing.
      const { group } = await tailThree(['--nats', natsUrl, '--create'], natsTopic, bus, natsTopic);
      const where = await bus.locate(natsTopic, group);
      expect(where?.consumer).toBe(consumerName(group, natsTopic));
      const gone = await where!.manager.consumers.info(where!.stream, where!.consumer).catch((error: unknown) => error);
      expect(String(gone)).toMatch(/not found/i);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('Kafka: prints what arrives, with partition and offset; deletes its group where the cluster offers DeleteGroups', async () => {
    const brokers = testBrokers();
    const topic = uniqueTopic('cli-tail');
    const bus = kafka({ brokers });
    try {
      await bus.publish(topic, { payload: Buffer.from('before tail started: not shown') });
      const { lines, stderr } = await tailThree(['--kafka', brokers.join(',')], topic, bus, topic);
      for (const line of lines) expect(line).toMatch(/ \d+@\d+ /);
      // The librdkafka mock has no DeleteGroups API: tail says what it left behind instead of failing.
      if (usingMock()) expect(stderr).toMatch(/left the throwaway group tail-\S+ behind: .*does not offer this API/);
      else expect(stderr).not.toContain('left the throwaway group');
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('Kafka: a topic that does not exist is refused (exit 1), and the cluster does not create it', async () => {
    const brokers = testBrokers();
    const bus = kafka({ brokers });
    try {
      const existing = uniqueTopic('cli-tail-there');
      await bus.publish(existing, { payload: Buffer.from('x') });
      const typo = `${existing}x`;
      const { code, stderr } = await spawnCli(['tail', typo, '--kafka', brokers.join(',')]).done;
      expect(code, stderr).toBe(1);
      expect(stderr).toContain(`topic "${typo}" does not exist on Kafka at`);
      expect(stderr).toContain(`(did you mean "${existing}"?); nothing was created`);
      await bus.connect();
      expect(await bus.clients.admin!.listTopics()).not.toContain(typo);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('NATS JetStream: a topic or pattern no stream holds is refused (exit 1), and no stream is created for it', async () => {
    const first = `sy-cli-tail-missing-${run}`;
    const bus = nats({ servers: natsUrl, mode: 'jetstream' });
    try {
      await bus.connect();
      for (const topic of [`${first}.orders`, `${first}.>`]) {
        const { code, stderr } = await spawnCli(['tail', topic, '--nats', natsUrl]).done;
        expect(code, stderr).toBe(1);
        expect(stderr).toContain('nothing was created');
      }
      expect(await bus.native.manager!.streams.find(`${first}.orders`).catch((error: unknown) => String(error))).toMatch(/no stream matches subject/i);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('refuses a missing or doubled broker option with a message naming the fix, exit code 2', async () => {
    const { code, stderr } = await spawnCli(['tail', 'orders.>']).done;
    expect(code).toBe(2);
    expect(stderr).toContain('name one broker: --dir DIR (embedded), --kafka BROKERS, --rabbitmq URL or --nats URL');
  }, 30_000);
});
