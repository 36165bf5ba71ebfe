// Event sourcing an order: a decider handles commands, events go to an event store (memory
// here; postgresEventStore({ pool }) in production), appended events are published to a
// transport for other services, and a checkpointed projection keeps an order-summary read model.
import { json, memory } from 'switchyard';
import {
  MemoryEventStorage,
  ProjectionRunner,
  commandHandler,
  createEventStore,
  memoryCheckpointStore,
  memorySnapshotStore,
} from 'switchyard/eventsourcing';
import { dump, orderSummaries } from './order-summary.ts';
import { OrderRejected, orderDecider, orderUpcasters, type OrderEvent } from './order.ts';

const bus = memory();
const storage = new MemoryEventStorage();

// An event written by last year's code (ItemAdded v1, price as a float), before upcasters existed.
await createEventStore(storage).appendToStream('order-o-0', { type: 'ItemAdded', data: { productId: 'legacy', quantity: 3, price: 1.1 } });

// #region setup
const store = createEventStore<OrderEvent>(storage, {
  upcasters: orderUpcasters,
  publish: { transport: bus, topic: 'orders.events' }, // key = stream id
});
const orders = commandHandler({
  store,
  decider: orderDecider,
  streamId: (id) => `order-${id}`,
  snapshots: { store: memorySnapshotStore(), policy: { every: 3 } },
});
const summaries = orderSummaries();
const projection = new ProjectionRunner({ store, projection: summaries, checkpoints: memoryCheckpointStore() });
projection.start();
// #endregion setup

// Another service reads the published events from the transport.
let shippedSeen = 0;
const shipped = Promise.withResolvers<void>();
await bus.subscribe('orders.events', { group: 'notifier', from: 'earliest' }, async (msg) => {
  if (msg.headers['x-event-type'] !== 'OrderShipped') return;
  const { carrier } = json<{ carrier: string }>().decode(msg);
  console.log(`notifier: ${msg.key} shipped with ${carrier}`);
  if (++shippedSeen === 1) shipped.resolve();
});

// #region commands
await orders.handle('o-1', { type: 'AddItem', productId: 'p-1', quantity: 2, priceCents: 2999 });
await orders.handle('o-1', { type: 'AddItem', productId: 'p-2', quantity: 1, priceCents: 4999 });
await orders.handle('o-1', { type: 'PlaceOrder', customerId: 'customer-123' }, { metadata: { correlationId: 'checkout-42' } });
await orders.handle('o-1', { type: 'ShipOrder', carrier: 'DHL', trackingId: 'JD0142' });
await orders.handle('o-1', { type: 'DeliverOrder' });

try {
  await orders.handle('o-2', { type: 'PlaceOrder', customerId: 'customer-7' });
} catch (error) {
  if (!(error instanceof OrderRejected)) throw error;
  console.log(`rejected: ${error.message}`);
}

// Two writers at once on one order: one conflicts, reloads and retries; both items land.
const [a, b] = await Promise.all([
  orders.handle('o-3', { type: 'AddItem', productId: 'p-9', quantity: 1, priceCents: 500 }),
  orders.handle('o-3', { type: 'AddItem', productId: 'p-8', quantity: 4, priceCents: 250 }),
]);
console.log(`o-3: versions ${[a.version, b.version].toSorted((x, y) => x - y).join(' and ')}, attempts ${a.attempts + b.attempts}`);
// #endregion commands

const { state, version } = await orders.load('o-1');
console.log(`o-1: ${state.status}, ${state.lines.length} lines, total ${(state.totalCents / 100).toFixed(2)}, version ${version}`);

// #region rebuild
await projection.waitForHead();
const live = dump(summaries.rows);
await projection.rebuild(); // reset the read model and the checkpoint, replay from zero
await projection.waitForHead();
console.log(`rebuild equals live: ${dump(summaries.rows) === live}`);
const status = await projection.status();
console.log(`projection ${status.name}: ${status.state}, position ${status.position}, lag ${status.lag}`);
// #endregion rebuild

for (const row of [...summaries.rows.values()].toSorted((x, y) => (x.orderId < y.orderId ? -1 : 1))) {
  console.log(`summary ${row.orderId}: ${row.status}, ${row.itemCount} items, ${(row.totalCents / 100).toFixed(2)}, customer ${row.customerId ?? '-'}`);
}

await shipped.promise;
await projection.stop();
await store.close();
await bus.close();
