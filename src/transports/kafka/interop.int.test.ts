import { execFile } from 'node:child_process';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { mockControl, quickConsumer, testBrokers, uniqueTopic, usingMock } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Interop with clients nobody here wrote — kcat (librdkafka) and kafkajs — against the same cluster
// (the librdkafka mock cluster, NOT Apache Kafka, unless SWITCHYARD_KAFKA_BROKERS is set).

/** murmur2 as Java's `Utils.murmur2`, written here independently of the adapter's. */
function javaMurmur2(data: Uint8Array): number {
  const m = 0x5bd1e995;
  let h = 0x9747b28c ^ data.length;
  let i = 0;
  for (; i + 4 <= data.length; i += 4) {
    let k = (data[i]! & 0xff) | ((data[i + 1]! & 0xff) << 8) | ((data[i + 2]! & 0xff) << 16) | ((data[i + 3]! & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const rest = data.length - i;
  if (rest === 3) h ^= (data[i + 2]! & 0xff) << 16;
  if (rest >= 2) h ^= (data[i + 1]! & 0xff) << 8;
  if (rest >= 1) {
    h ^= data[i]! & 0xff;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}
const expectedPartition = (key: string, partitions: number): number => (javaMurmur2(Buffer.from(key)) & 0x7fffffff) % partitions;

process.env['KAFKAJS_NO_PARTITIONER_WARNING'] = '1'; // kafkajs' default is the Java partitioner; we check that
const brokers = testBrokers();
const kcatBrokers = brokers.join(',');

function kcat(args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kcat', ['-b', kcatBrokers, '-X', 'fetch.wait.max.ms=100', ...args], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kcat ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Reads a whole topic with kcat: partition, key, headers and value of every record. */
async function kcatRead(topic: string): Promise<Array<{ partition: number; key: string; headers: string; value: string }>> {
  const out = await kcat(['-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p\t%k\t%h\t%s\n']);
  return out
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [partition, key, headers, value] = line.split('\t');
      return { partition: Number(partition), key: key!, headers: headers!, value: value! };
    });
}

const kafkajs = new Kafka({ clientId: 'interop-kafkajs', brokers, logLevel: logLevel.NOTHING });
const open: KafkaTransport[] = [];
afterAll(async () => {
  for (const t of open) await t.close();
});
function transport(): KafkaTransport {
  const t = kafka({ brokers, consumer: quickConsumer });
  open.push(t);
  return t;
}
async function createTopic(topic: string): Promise<void> {
  if (usingMock()) await mockControl(`create-topic ${topic} 3 1`);
  else await kcat(['-P', '-t', topic], '');
}

describe('Kafka interop (kcat/librdkafka and kafkajs; librdkafka mock cluster — not Apache Kafka)', () => {
  it('the test murmur2 matches the Java client vectors', () => {
    const vectors: Array<[string, number]> = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(javaMurmur2(Buffer.from(key)), key).toBe(hash);
  });

  it('consumes what kcat produced, keys, headers and values intact', async () => {
    const topic = uniqueTopic('from-kcat');
    await createTopic(topic);
    const lines = Array.from({ length: 30 }, (_, i) => `order-${i}:{"n":${i},"text":"zażółć ✓"}`);
    await kcat(['-P', '-t', topic, '-K:', '-H', 'source=kcat', '-H', 'x-unicode=gęślą jaźń 🚀', '-X', 'partitioner=murmur2_random'], `${lines.join('\n')}\n`);
    const t = transport();
    const inbox = new Inbox();
    await t.subscribe(topic, { group: 'from-kcat', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(30, 30_000);
    for (let i = 0; i < 30; i++) {
      const m = inbox.messages.find((x) => x.key === `order-${i}`)!;
      expect(m, `order-${i}`).toBeDefined();
      expect(Buffer.from(m.payload).toString()).toBe(`{"n":${i},"text":"zażółć ✓"}`);
      expect(m.headers).toEqual({ source: 'kcat', 'x-unicode': 'gęślą jaźń 🚀' });
      expect(m.id).toBe(`${topic}/${m.partition}/${m.offset}`); // no x-message-id: a stable id from its place
      expect(m.partition).toBe(expectedPartition(`order-${i}`, 3));
    }
  }, 60_000);

  it('consumes what kafkajs produced, keys, per-message headers and values intact', async () => {
    const topic = uniqueTopic('from-kafkajs');
    await createTopic(topic);
    const producer = kafkajs.producer();
    await producer.connect();
    const messages = Array.from({ length: 40 }, (_, i) => ({
      key: `cust-${i % 13}`,
      value: Buffer.from(`value-${i}`),
      headers: { 'x-index': String(i), 'x-empty': '', 'x-message-id': `kjs-${i}` } as IHeaders,
    }));
    await producer.send({ topic, messages });
    await producer.disconnect();
    const t = transport();
    const inbox = new Inbox();
    await t.subscribe(topic, { group: 'from-kafkajs', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(40, 30_000);
    for (let i = 0; i < 40; i++) {
      const m = inbox.messages.find((x) => x.id === `kjs-${i}`)!; // kafkajs set our id header itself
      expect(m, `kjs-${i}`).toBeDefined();
      expect(m.key).toBe(`cust-${i % 13}`);
      expect(Buffer.from(m.payload).toString()).toBe(`value-${i}`);
      expect(m.headers).toEqual({ 'x-index': String(i), 'x-empty': '' });
      expect(m.partition).toBe(expectedPartition(`cust-${i % 13}`, 3)); // kafkajs' default partitioner is Java's
    }
  }, 60_000);

  it('what Switchyard publishes is read by kcat and kafkajs with keys and headers intact, on the partition Java and librdkafka pick', async () => {
    const topic = uniqueTopic('to-others');
    await createTopic(topic);
    const t = transport();
    const keys = Array.from({ length: 60 }, (_, i) => `customer-${i}-ż`);
    await t.publish(
      topic,
      keys.map((key, i) => ({ id: `sy-${i}`, key, payload: Buffer.from(`payload-${i}`), headers: { 'x-trace': `t${i}`, app: 'switchyard' } })),
    );

    const read = await kcatRead(topic);
    expect(read).toHaveLength(keys.length);
    for (const r of read) {
      const i = keys.indexOf(r.key);
      expect(i, r.key).toBeGreaterThanOrEqual(0);
      expect(r.value).toBe(`payload-${i}`);
      expect(r.headers.split(',').toSorted()).toEqual([`app=switchyard`, `x-message-id=sy-${i}`, `x-trace=t${i}`].toSorted());
      expect(r.partition, r.key).toBe(expectedPartition(r.key, 3));
    }

    const consumer = kafkajs.consumer({ groupId: `${topic}-kafkajs`, maxWaitTimeInMs: 100, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: Array<{ key: string; partition: number; headers: Record<string, string> }> = [];
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message, partition }) => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
          got.push({ key: message.key!.toString(), partition, headers });
          if (got.length === keys.length) resolve();
        },
      });
    });
    await done;
    await consumer.disconnect();
    for (const g of got) {
      const i = keys.indexOf(g.key);
      expect(g.headers).toEqual({ 'x-message-id': `sy-${i}`, 'x-trace': `t${i}`, app: 'switchyard' });
      expect(g.partition).toBe(expectedPartition(g.key, 3));
    }
  }, 60_000);

  it("puts each key on the same partition as kcat's murmur2_random and kafkajs' default partitioner", async () => {
    const keys = Array.from({ length: 100 }, (_, i) => `key-${i}-${'x'.repeat(i % 7)}`);
    const [viaSwitchyard, viaKcat, viaKafkajs] = [uniqueTopic('part-sy'), uniqueTopic('part-kcat'), uniqueTopic('part-kjs')];
    for (const topic of [viaSwitchyard, viaKcat, viaKafkajs]) await createTopic(topic);
    await transport().publish(viaSwitchyard, keys.map((key) => ({ key, payload: Buffer.from(key) })));
    await kcat(['-P', '-t', viaKcat, '-K', '\t', '-X', 'partitioner=murmur2_random'], keys.map((k) => `${k}\t${k}`).join('\n') + '\n');
    const producer = kafkajs.producer();
    await producer.connect();
    await producer.send({ topic: viaKafkajs, messages: keys.map((key) => ({ key, value: key })) });
    await producer.disconnect();
    const partitionsOf = async (topic: string) => new Map((await kcatRead(topic)).map((r) => [r.key, r.partition]));
    const [sy, kc, kj] = await Promise.all([partitionsOf(viaSwitchyard), partitionsOf(viaKcat), partitionsOf(viaKafkajs)]);
    let agree = 0;
    for (const key of keys) {
      const want = expectedPartition(key, 3);
      expect([sy.get(key), kc.get(key), kj.get(key)], key).toEqual([want, want, want]);
      agree++;
    }
    console.log(`[interop] ${agree}/${keys.length} keys on the same partition via Switchyard, kcat murmur2_random, kafkajs default and Java murmur2  [librdkafka mock cluster, not Apache Kafka]`);
  }, 60_000);
});
