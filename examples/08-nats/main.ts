// NATS with JetStream: durable topics, consumer groups, redelivery with delay, de-duplication by
// message id, request-reply, status events and lag — against a running nats-server (-js).
// Run: node --conditions=switchyard-source examples/08-nats/main.ts [APP]   (APP: first topic token, default "shop")
// The server comes from SWITCHYARD_NATS_URL (default nats://127.0.0.1:4222).
import { json } from 'switchyard';
import { isNoRespondersError, nats, natsLag } from 'switchyard/nats';

interface OrderPlaced {
  orderId: string;
  customerId: string;
  total: number;
}
interface Quote {
  sku: string;
}
interface Price {
  sku: string;
  cents: number;
}
const app = process.argv[2] ?? 'shop';
const orders = json<OrderPlaced>();

// #region connect
const bus = nats({
  mode: 'jetstream', // the default; 'core' is at-most-once and stores nothing
  // Topics under `${app}.` share one stream (SY_<app>), created on first use with these limits:
  defaultStream: { storage: 'file', maxAgeMs: 24 * 60 * 60 * 1000, duplicateWindowMs: 2 * 60 * 1000 },
  consumers: { ackWaitMs: 30_000, redeliveryDelayMs: [200, 1_000, 5_000] },
  reconnect: { maxReconnects: -1, waitMs: 2_000, jitterMs: 100, pingIntervalMs: 10_000, maxPingsOut: 2 },
});
// #endregion connect

// #region status
const stopListening = bus.on('status', (s) => {
  switch (s.type) {
    case 'disconnected':
    case 'reconnected':
      console.log(`nats: ${s.type} (${s.server})`);
      break;
    case 'consumer':
      console.log(`nats: group ${s.group} on ${s.topic}: ${s.detail}`);
      break;
    default:
      break;
  }
});
// #endregion status

// #region consume
const done = Promise.withResolvers<void>();
const charged = new Set<string>();
await bus.subscribe(`${app}.orders.*`, { group: 'billing', from: 'earliest', concurrency: 4 }, async (msg) => {
  const order = orders.decode(msg);
  if (order.orderId === 'o-2' && msg.attempt === 1) throw new Error('card service busy'); // run again in 200 ms, ahead of later orders of its key
  charged.add(order.orderId);
  console.log(`billing: charged ${order.customerId} ${order.total.toFixed(2)} for ${order.orderId} on ${msg.topic} (attempt ${msg.attempt})`);
  if (charged.size === 3) done.resolve();
});
// #endregion consume

// #region publish
await bus.publish(`${app}.orders.placed`, [
  orders.encode({ orderId: 'o-1', customerId: 'alice', total: 19.99 }, { id: 'order-o-1', key: 'alice' }),
  orders.encode({ orderId: 'o-2', customerId: 'bob', total: 5 }, { id: 'order-o-2', key: 'bob' }),
]); // resolved: JetStream stored both (acks awaited, up to 256 in flight)
// A retry of the same id within the duplicate window is dropped by the server: o-1 is charged once.
await bus.publish(`${app}.orders.placed`, orders.encode({ orderId: 'o-1', customerId: 'alice', total: 19.99 }, { id: 'order-o-1', key: 'alice' }));
await bus.publish(`${app}.orders.express`, orders.encode({ orderId: 'o-3', customerId: 'carol', total: 42.5 }, { id: 'order-o-3', key: 'carol' }));
// #endregion publish
await done.promise;

// #region request-reply
// Request subjects live outside stream subjects (SY_<app> captures `<app>.>`): a first token of their own.
const quote = json<Quote>();
const price = json<Price>();
const subject = `${app}-rpc.prices.quote`;
const pricing = await bus.respond(subject, { codec: quote, replyCodec: price }, async (q) => ({ sku: q.sku, cents: 1299 }));
const reply = await bus.request(subject, { sku: 'A-1' }, { codec: quote, replyCodec: price, timeoutMs: 2_000 });
console.log(`pricing: ${reply.sku} costs ${reply.cents} cents`);
await pricing.close();
const nobody = await bus.request(subject, { sku: 'A-1' }, { codec: quote, replyCodec: price }).catch((e: unknown) => e);
console.log(`pricing: after close, ${isNoRespondersError(nobody) ? 'no responders' : String(nobody)}`);
// #endregion request-reply

// #region lag
for (const lag of await natsLag(bus)) {
  console.log(`lag: group ${lag.group} on ${lag.topic}: ${lag.pending} pending, ${lag.ackPending} unacknowledged`);
}
// #endregion lag

stopListening();
await bus.close();
console.log(`nats: charged ${[...charged].sort().join(', ')}`);
