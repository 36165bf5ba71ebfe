// Switchyard on Kafka: the same contract as `memory()`, plus what Kafka adds — partitions and
// offsets on every message, per-key parallelism, compression, declared topics, consumer lag and
// the underlying @platformatic/kafka clients. Runs against SWITCHYARD_KAFKA_BROKERS, else the
// test cluster of `npm run services` (librdkafka's mock cluster, not Apache Kafka).
import { existsSync, readFileSync } from 'node:fs';
import { json } from 'switchyard';
import { kafka, kafkaLag, kafkaNative } from 'switchyard/kafka';

interface OrderPlaced {
  orderId: string;
  customerId: string;
  total: number;
}

const brokersFile = new URL('../../.tools/kafka-mock/brokers', import.meta.url);
const brokers = (process.env['SWITCHYARD_KAFKA_BROKERS'] ?? (existsSync(brokersFile) ? readFileSync(brokersFile, 'utf8').trim() : '127.0.0.1:39092')).split(',');
const run = Date.now().toString(36);
const topic = `examples.${run}.orders`;

// #region setup
const bus = kafka({
  brokers,
  clientId: 'billing-service',
  producer: { compression: 'lz4', lingerMs: 2 }, // acks: 'all' and idempotence are the defaults
  consumer: { maxWaitMs: 100, redeliveryDelayMs: 250, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500 },
});
const orders = json<OrderPlaced>();
// #endregion setup

// #region consume
let handled = 0;
const done = Promise.withResolvers<void>();
await bus.subscribe(topic, { group: 'billing', concurrency: 16, from: 'earliest' }, async (msg) => {
  const order = orders.decode(msg);
  if (order.orderId === 'o-2' && msg.attempt === 1) throw new Error('payment gateway timeout'); // retried in place
  console.log(`billing: ${order.customerId} ${order.total.toFixed(2)} for ${order.orderId} (partition ${msg.partition}, offset ${msg.offset}, attempt ${msg.attempt})`);
  if (++handled === 3) done.resolve();
});
// #endregion consume

// #region publish
await bus.publish(topic, [
  orders.encode({ orderId: 'o-1', customerId: 'alice', total: 19.99 }, { key: 'alice' }),
  orders.encode({ orderId: 'o-2', customerId: 'bob', total: 5 }, { key: 'bob' }),
  orders.encode({ orderId: 'o-3', customerId: 'alice', total: 42.5 }, { key: 'alice' }),
]);
await done.promise;
// #endregion publish

await bus.close(); // drains in-flight handlers and commits what succeeded

// #region lag
const lag = await kafkaLag({ brokers }, 'billing', [topic]);
for (const p of lag) console.log(`lag: partition ${p.partition} committed ${p.committed} of ${p.highWatermark} → ${p.lag} behind`);
// #endregion lag

// #region pattern
// `*` is one token, `>` the rest: the subscription follows the topics that match, new ones included.
const audit = kafka({ brokers, consumer: { maxWaitMs: 100, topicRefreshMs: 500, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500 } });
let audited = 0;
const allAudited = Promise.withResolvers<void>();
await audit.subscribe(`examples.${run}.*`, { group: 'audit', from: 'earliest' }, async (msg) => {
  console.log(`audit: ${msg.topic} ${orders.decode(msg).orderId}`);
  if (++audited === 4) allAudited.resolve();
});
// A topic created after the subscription: found at the next refresh, read from its start.
await audit.publish(`examples.${run}.refunds`, orders.encode({ orderId: 'o-2', customerId: 'bob', total: -5 }, { key: 'bob' }));
await allAudited.promise;
await audit.close();
// #endregion pattern

// #region native
const admin = kafka({ brokers });
const { admin: client } = await kafkaNative(admin); // @platformatic/kafka's Admin, typed
const topics = await client.listTopics();
console.log(`native: ${topics.includes(topic) ? 'found' : 'missing'} ${topic} among ${topics.length} topics`);
await admin.close();
// #endregion native

console.log(`kafka example: ${handled} orders handled, ${audited} audited, total lag ${lag.reduce((sum, p) => sum + p.lag, 0n)}`);
