// RabbitMQ: topics on one topic exchange with wildcard groups, delayed redelivery through TTL
// retry queues, native topology (direct and fanout exchanges, a queue with TTL, max length and a
// dead-letter exchange), publisher confirms and lag — against a running RabbitMQ.
// Run: node --conditions=switchyard-source examples/07-rabbitmq/main.ts [APP]   (APP prefixes every name, default "shop")
// The broker comes from SWITCHYARD_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672).
import { json, text } from 'switchyard';
import { rabbitmq, rabbitmqLag } from 'switchyard/rabbitmq';

interface OrderPlaced {
  orderId: string;
  customerId: string;
  total: number;
}
const app = process.argv[2] ?? 'shop';
const orders = json<OrderPlaced>();
const plain = text();

// #region connect
const bus = rabbitmq({
  exchange: `${app}.topics`, // every topic is a routing key on this durable topic exchange
  prefetch: 20,
  confirm: true, // publish() resolves once the broker has the messages
  redeliveryDelaysMs: [200, 1_000, 5_000], // failed messages wait in TTL retry queues, then come back
  topology: {
    exchanges: [
      { name: `${app}.notifications`, type: 'direct' },
      { name: `${app}.broadcast`, type: 'fanout' },
      { name: `${app}.dlx`, type: 'fanout' },
    ],
    queues: [
      // Notifications expire after 200 ms unread and at most 2 wait; the rest are dead-lettered.
      { name: `${app}.email`, messageTtlMs: 200, maxLength: 2, overflow: 'drop-head', deadLetterExchange: `${app}.dlx` },
      { name: `${app}.dead-letters` },
    ],
    bindings: [
      { exchange: `${app}.notifications`, queue: `${app}.email`, routingKey: 'email' },
      { exchange: `${app}.dlx`, queue: `${app}.dead-letters` },
    ],
  },
  routes: {
    // Topics that go through native exchanges, and groups that read native queues.
    'notify.email': { exchange: `${app}.notifications`, routingKey: 'email', queues: { mailer: `${app}.email` } },
    maintenance: { exchange: `${app}.broadcast` },
    'dead-letters': { exchange: `${app}.dlx`, queues: { audit: `${app}.dead-letters` } },
  },
  queueName: (topic, group) => `${app}.${topic}.${group}`,
  onEvent: (e) => {
    if (e.type === 'disconnected' || e.type === 'consumer-recovered') console.log(`rabbitmq: ${e.type}`);
  },
});
// #endregion connect

// #region consume
const charged = new Set<string>();
const allCharged = Promise.withResolvers<void>();
// A pattern is a binding: `orders.*` → binding key `orders.*` on the topic exchange.
await bus.subscribe('orders.*', { group: 'billing', concurrency: 4 }, async (msg) => {
  const order = orders.decode(msg);
  if (order.orderId === 'o-2' && msg.attempt === 1) throw new Error('card service busy'); // back in 200 ms
  charged.add(order.orderId);
  console.log(`billing: charged ${order.customerId} ${order.total.toFixed(2)} for ${order.orderId} on ${msg.topic} (attempt ${msg.attempt})`);
  if (charged.size === 3) allCharged.resolve();
});
// #endregion consume

// #region publish
await bus.publish('orders.placed', [
  orders.encode({ orderId: 'o-1', customerId: 'alice', total: 19.99 }, { key: 'alice' }),
  orders.encode({ orderId: 'o-2', customerId: 'bob', total: 5 }, { key: 'bob' }),
]); // resolved: confirmed by the broker, persistent
await bus.publish('orders.express', orders.encode({ orderId: 'o-3', customerId: 'carol', total: 42.5 }, { key: 'carol' }));
// #endregion publish
await allCharged.promise;

// #region native
// Fanout: each group's queue is bound to the broadcast exchange, so every group gets every message.
const broadcast = Promise.withResolvers<void>();
const heard = new Set<string>();
for (const group of ['api', 'worker']) {
  await bus.subscribe('maintenance', { group }, async (msg) => {
    console.log(`${group}: ${plain.decode(msg)}`);
    heard.add(group);
    if (heard.size === 2) broadcast.resolve();
  });
}
await bus.publish('maintenance', plain.encode('down for maintenance at 02:00'));
await broadcast.promise;

// Direct exchange into a queue nobody reads yet: two expire, one is pushed out by max length.
const dead = Promise.withResolvers<void>();
let deadCount = 0;
await bus.subscribe('dead-letters', { group: 'audit' }, async (msg) => {
  console.log(`audit: ${plain.decode(msg)} dead-lettered (${msg.headers['x-first-death-reason']} in ${msg.headers['x-first-death-queue']})`);
  if (++deadCount === 3) dead.resolve();
});
await bus.publish('notify.email', [plain.encode('welcome alice'), plain.encode('welcome bob'), plain.encode('welcome carol')]);
await dead.promise;
// #endregion native

// #region lag
const lag = await rabbitmqLag(bus, 'orders.*', 'billing');
console.log(`lag: group billing on orders.*: ${lag.ready} ready, ${lag.unacked} unacknowledged (queue ${lag.queue})`);
// #endregion lag

const declared = bus.declared();
await bus.close();
console.log(`rabbitmq: charged ${[...charged].sort().join(', ')}`);
console.log(`declared: ${JSON.stringify(declared)}`);
