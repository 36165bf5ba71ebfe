// A Router on the memory transport: two named handlers, the reliability middleware, a poison
// message that lands in the dead-letter topic and a flaky downstream that retry() absorbs.
// Swap `memory()` for `embedded({ dir })` or `kafka({ brokers })` and nothing else changes.
import {
  Router,
  correlation,
  deadLetter,
  idempotency,
  json,
  memory,
  memoryIdempotencyStore,
  retry,
  timeout,
  type Logger,
} from 'switchyard';

interface OrderPlaced {
  orderId: string;
  customerId: string;
  total: number;
}
interface PaymentCharged {
  orderId: string;
  amount: number;
}

const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => console.error(m) };
let paymentApiCalls = 0;
async function charge(order: OrderPlaced, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  // The payment API fails on its first call: retry() absorbs it.
  if (++paymentApiCalls === 1) throw new Error('payment API: 503 Service Unavailable');
}

// #region router
const bus = memory();
const controller = new AbortController();
const router = new Router({ logger });
router.use(correlation(), retry({ attempts: 5, initialDelayMs: 10 }), deadLetter(), timeout(5_000), idempotency({ store: memoryIdempotencyStore() }));

router.handle(
  'charge-on-order',
  { from: bus, topic: 'orders.placed', group: 'billing', codec: json<OrderPlaced>() },
  async (msg, ctx) => {
    await charge(msg.payload, ctx.signal);
    // Sent after the handler succeeded, before orders.placed is acknowledged.
    ctx.publish('payments.charged', json<PaymentCharged>().encode({ orderId: msg.payload.orderId, amount: msg.payload.total }, { key: msg.key }));
  },
);

let receipts = 0;
let deadLetters = 0;
const stopWhenDone = (): void => {
  if (receipts === 2 && deadLetters === 1) controller.abort(); // the example stops itself; services wait for SIGTERM
};
router.handle(
  'send-receipt',
  { from: bus, topic: 'payments.charged', group: 'receipts', codec: json<PaymentCharged>() },
  async (msg, ctx) => {
    console.log(`receipt: ${msg.payload.orderId} ${msg.payload.amount.toFixed(2)} (correlation ${ctx.headers['x-correlation-id']})`);
    receipts++;
    stopWhenDone();
  },
);

router.handle('log-dead-letters', { from: bus, topic: 'orders.placed.dlq', group: 'ops' }, async (msg) => {
  console.log(`dead letter: ${msg.id} from ${msg.headers['x-original-topic']}: ${msg.headers['x-error']}`);
  deadLetters++;
  stopWhenDone();
});

await router.start(); // resolves once every handler consumes
const running = router.run({ signal: controller.signal }); // until aborted or SIGINT/SIGTERM: drain, commit, close
// #endregion router

await bus.publish('orders.placed', [
  json<OrderPlaced>().encode({ orderId: 'o-1', customerId: 'alice', total: 19.99 }, { key: 'alice', id: 'order-o-1' }),
  json<OrderPlaced>().encode({ orderId: 'o-1', customerId: 'alice', total: 19.99 }, { key: 'alice', id: 'order-o-1' }), // a duplicate
  { key: 'bob', payload: new TextEncoder().encode('{"orderId": "o-2", "tot') }, // poison: malformed JSON
  json<OrderPlaced>().encode({ orderId: 'o-3', customerId: 'carol', total: 42.5 }, { key: 'carol' }),
]);
await running;

// #region inspect
for (const h of router.inspector.handlers()) {
  const c = h.counters;
  console.log(`${h.name}: ${h.state}, ${c.succeeded} acknowledged, ${c.retried ?? 0} retried, ${c['skipped-duplicate'] ?? 0} duplicates skipped, ${c['dead-lettered'] ?? 0} dead-lettered`);
}
// #endregion inspect

