// The same order flow as a choreography: inventory, payments and shipping react to each other's
// events, the correlation id travelling in headers. A deadline watcher notices when an order's
// shipment does not follow within the time allowed, and inventory compensates.
import { memory } from 'switchyard';
import { Choreography, memorySagaStore, startChain, watchDeadlines, type DeadlineMissed } from 'switchyard/saga';
import type { Order } from './services.ts';

const bus = memory();
const done = Promise.withResolvers<void>();
const log: string[] = [];
const settled = new Set<string>();
const finish = (orderId: string): void => {
  settled.add(orderId);
  if (settled.size === 2) done.resolve();
};

// #region choreography
const flow = new Choreography(bus)
  .on<Order>('orders.placed', { group: 'inventory' }, async (e) => {
    log.push(`inventory: reserved stock for ${e.payload.orderId}`);
    e.emit('inventory.reserved', e.payload, { key: e.payload.orderId });
  })
  .on<Order>('inventory.reserved', { group: 'payments' }, async (e) => {
    if (e.payload.orderId === 'order-2') return; // the payment provider never answers
    e.emit('payment.charged', e.payload, { key: e.payload.orderId });
  })
  .on<Order>('payment.charged', { group: 'shipping' }, async (e) => {
    log.push(`shipping: shipped ${e.payload.orderId}`);
    e.emit('shipment.created', e.payload, { key: e.payload.orderId });
    finish(e.payload.orderId);
  })
  // The compensation: the shipment did not come in time, so the reservation is released.
  .on<DeadlineMissed<Order>>('orders.shipping-missed', { group: 'inventory' }, async (e) => {
    const order = e.payload.started;
    log.push(`inventory: released stock for ${order.orderId}, no shipment within the deadline`);
    finish(order.orderId);
  });
await flow.start();

const watcher = await watchDeadlines(
  { name: 'shipping-deadline', start: 'orders.placed', expect: 'shipment.created', withinMs: 200, timeoutTopic: 'orders.shipping-missed' },
  { transport: bus, store: memorySagaStore() }, // postgresSagaStore({ pool }) keeps deadlines across restarts
);

await startChain(bus, 'orders.placed', { orderId: 'order-1', customerId: 'alice', amount: 99.99 }, { key: 'order-1' });
await startChain(bus, 'orders.placed', { orderId: 'order-2', customerId: 'bob', amount: 15 }, { key: 'order-2' });
// #endregion choreography

await done.promise;
await watcher.close();
await flow.close();
await bus.close();
for (const line of log.toSorted()) console.log(line);
