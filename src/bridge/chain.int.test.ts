import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { json } from '../codecs/json.ts';
import type { Message } from '../core/message.ts';
import { Inbox } from '../testing/inbox.ts';
import type { EmbeddedTransport } from '../transports/embedded/index.ts';
import { startOwnCluster, testBrokers, usingMock, type OwnCluster } from '../transports/kafka/test-cluster.ts';
import { nats, type NatsTransport } from '../transports/nats/index.ts';
import { startTestNatsServer, type TestNatsServer } from '../transports/nats/test-server.test-support.ts';
import type { RabbitMQTransport } from '../transports/rabbitmq/index.ts';
import { defaultAmqpUrl } from '../transports/rabbitmq/options.ts';
import { deleteDeclared } from '../transports/rabbitmq/test-support.ts';
import { bridge, type Bridge } from './bridge.ts';
import { parseBridgeConfig } from './parse-config.ts';

// The acceptance chain: 10,000 keyed messages go embedded → Kafka → RabbitMQ → NATS JetStream
// through three routes of one YAML file. Route 1 filters out every tenth message (kind "noise"),
// route 2 transforms payloads with a TypeScript module and picks the RabbitMQ topic from a header,
// route 3 forwards to JetStream. The final consumer must see exactly the expected messages, in
// order per key, with the ids the producer gave. Kafka is a private mock cluster and NATS a private
// server; RabbitMQ is the shared broker with an exchange of this run's own.

const run = randomBytes(4).toString('hex');
const COUNT = 10_000;
const KEYS = 50;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let cluster: OwnCluster | undefined;
let natsServer: TestNatsServer;
const dir = mkdtempSync(join(tmpdir(), 'bridge-chain-'));

beforeAll(async () => {
  if (usingMock()) cluster = await startOwnCluster();
  natsServer = await startTestNatsServer();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  await natsServer?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const config = `
transports:
  local: { type: embedded, dir: "\${DATA_DIR}" }
  kafka:
    type: kafka
    brokers: "\${KAFKA_BROKERS}"
    consumer: { maxWaitMs: 50 }
  rabbit: { type: rabbitmq, url: "\${AMQP_URL}", exchange: "switchyard.bridge.\${RUN}" }
  nats: { type: nats, servers: "\${NATS_URL}" }

routes:
  - name: local-to-kafka
    from: { transport: local, topic: "chain.\${RUN}.orders", start: earliest, concurrency: 32 }
    to: { transport: kafka, topic: "chain.\${RUN}.kafka" }
    filter:
      json: { kind: { notEquals: noise } }

  - name: kafka-to-rabbit
    from: { transport: kafka, topic: "chain.\${RUN}.kafka", start: earliest, concurrency: 32 }
    to: { transport: rabbit, topic: "chain.\${RUN}.{headers.region}" }
    format: { in: json }
    transform: ./transform.ts#enrich

  - name: rabbit-to-nats
    from: { transport: rabbit, topic: "chain.\${RUN}.*", concurrency: 32 }
    to: { transport: nats, topic: "chain.\${RUN}.final" }
`;

const transform = `
// Prices in cents, a stage marker, and the region moved from a header into the payload.
export function enrich(message) {
  const order = message.payload;
  return { payload: { seq: order.seq, kind: order.kind, cents: Math.round(order.amount * 100), region: message.headers.region, stage: 'enriched' } };
}
`;

interface Order {
  seq: number;
  kind: string;
  amount: number;
}

describe('bridge chain: embedded → Kafka → RabbitMQ → NATS JetStream', () => {
  it('delivers exactly the filtered, transformed messages with their ids, in order per key', async () => {
    writeFileSync(join(dir, 'transform.ts'), transform);
    const env = {
      DATA_DIR: join(dir, 'data'),
      KAFKA_BROKERS: (cluster?.brokers ?? testBrokers()).join(','),
      AMQP_URL: defaultAmqpUrl(),
      NATS_URL: natsServer.url,
      RUN: run,
    };
    await cluster?.control(`create-topic chain.${run}.kafka 4`);
    const parsed = parseBridgeConfig(config, { env });
    if (!parsed.ok) throw new Error(parsed.problems.join('\n'));

    // The final consumer exists before anything flows (JetStream keeps the messages anyway).
    const sink: NatsTransport = nats({ servers: natsServer.url });
    const final = new Inbox();
    await sink.subscribe(`chain.${run}.final`, { group: 'verify', from: 'earliest' }, async (m: Message) => final.push(m));

    let b: Bridge | undefined;
    let source: EmbeddedTransport | undefined;
    try {
      b = await bridge(parsed.config, { baseDir: dir, logger: quiet });
      source = b.transport('local') as EmbeddedTransport;
      const orders = json<Order>();
      const expected = new Map<string, { key: string; seq: number; region: string; cents: number }>();
      for (let start = 0; start < COUNT; start += 500) {
        const batch = Array.from({ length: 500 }, (_, j) => {
          const seq = start + j;
          const key = `k-${seq % KEYS}`;
          const region = seq % 3 === 0 ? 'us' : 'eu';
          const kind = seq % 10 === 7 ? 'noise' : 'order';
          const amount = (seq % 1000) / 4;
          if (kind === 'order') expected.set(`c-${run}-${seq}`, { key, seq, region, cents: Math.round(amount * 100) });
          return orders.encode({ seq, kind, amount }, { id: `c-${run}-${seq}`, key, headers: { region } });
        });
        await source.publish(`chain.${run}.orders`, batch);
      }
      expect(expected.size).toBe(COUNT * 0.9);

      await final.until(() => final.distinct >= expected.size, 240_000, () => `${expected.size} distinct messages (got ${final.distinct}; ${JSON.stringify(b!.stats())})`);

      const received = json<{ seq: number; kind: string; cents: number; region: string; stage: string }>();
      const seen = new Set<string>();
      const lastSeq = new Map<string, number>();
      for (const m of final.messages) {
        const want = expected.get(m.id);
        expect(want, `unexpected message ${m.id}`).toBeDefined();
        expect(m.key).toBe(want!.key);
        expect(received.decode(m)).toEqual({ seq: want!.seq, kind: 'order', cents: want!.cents, region: want!.region, stage: 'enriched' });
        expect(m.headers['region']).toBe(want!.region);
        if (seen.has(m.id)) continue; // a redelivery is allowed (at-least-once); order is about first arrivals
        seen.add(m.id);
        expect(want!.seq, `order of key ${m.key}`).toBeGreaterThan(lastSeq.get(m.key) ?? -1);
        lastSeq.set(m.key, want!.seq);
      }
      expect(seen.size).toBe(expected.size);
      // JetStream drops a re-publish of the same id, so even a redelivery upstream arrives once.
      expect(final.messages.length).toBe(expected.size);
      // Lag through the observability lag sources: every route's group catches up to zero
      // (commits trail the last delivery a little, so this polls the brokers).
      const lag = await b.lagSources();
      await vi.waitFor(
        async () => {
          const readings = (await Promise.all(lag.map((source) => source.read()))).flat();
          expect(readings.map((r) => `${r.transport} ${r.group} ${r.messages}`).toSorted()).toEqual([
            'embedded bridge.local-to-kafka 0',
            'kafka bridge.kafka-to-rabbit 0',
            'rabbitmq bridge.rabbit-to-nats 0',
          ]);
        },
        { timeout: 30_000, interval: 250 },
      );
      await b.stop();
      const stats = Object.fromEntries(b.stats().map((s) => [s.name, s]));
      expect(stats['local-to-kafka']).toMatchObject({ filtered: COUNT / 10, forwarded: COUNT * 0.9, deadLettered: 0 });
      expect(stats['kafka-to-rabbit']).toMatchObject({ forwarded: COUNT * 0.9, deadLettered: 0 });
      expect(stats['rabbit-to-nats']).toMatchObject({ forwarded: COUNT * 0.9, deadLettered: 0 });
    } finally {
      await b?.stop();
      await sink.close();
      const rabbit = b?.transport('rabbit') as RabbitMQTransport | undefined;
      if (rabbit) await deleteDeclared([rabbit], { exchanges: [`switchyard.bridge.${run}`] });
    }
  }, 300_000);
});
