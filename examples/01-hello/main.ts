// Hello, Switchyard: publish a few orders and handle them with a consumer group, in one process
// on the in-process memory transport. Swap `memory()` for `embedded({ dir })` or
// `kafka({ brokers })` and nothing else changes.
import { json, memory } from 'switchyard';

interface OrderPlaced {
  orderId: string;
  customerId: string;
  total: number;
}

// #region hello
const bus = memory();
const orders = json<OrderPlaced>();
let handled = 0;
let revenue = 0;

const done = Promise.withResolvers<void>();
await bus.subscribe('orders.placed', { group: 'billing' }, async (msg) => {
  const order = orders.decode(msg);
  revenue += order.total;
  console.log(`billing: charged ${order.customerId} ${order.total.toFixed(2)} for ${order.orderId} (attempt ${msg.attempt})`);
  if (++handled === 3) done.resolve();
});

await bus.publish('orders.placed', [
  orders.encode({ orderId: 'o-1', customerId: 'alice', total: 19.99 }, { key: 'alice' }),
  orders.encode({ orderId: 'o-2', customerId: 'bob', total: 5 }, { key: 'bob' }),
  orders.encode({ orderId: 'o-3', customerId: 'alice', total: 42.5 }, { key: 'alice' }),
]);
await done.promise;
await bus.close(); // waits for in-flight handlers
// #endregion hello

console.log(`hello: ${handled} orders handled, revenue ${revenue.toFixed(2)}`);
