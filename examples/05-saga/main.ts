// The order fulfillment saga: reserve inventory → process payment → create shipment → send
// confirmation, each step compensated in reverse order when a later one fails. Runs on the
// in-process memory transport and saga store; swap `memorySagaStore()` for
// `postgresSagaStore({ pool })` to survive restarts and share the work between processes.
import { json, memory } from 'switchyard';
import { defineSaga, memorySagaStore, SagaOrchestrator, type SagaEvent } from 'switchyard/saga';
import { Services, type Order } from './services.ts';

const services = new Services();
services.declined.add('order-2'); // the bank declines: only the reservation is released
services.undeliverable.add('order-3'); // no courier: refund, then release

// #region definition
const fulfillment = defineSaga<Order>('order-fulfillment')
  .step({
    name: 'reserve-inventory',
    timeoutMs: 5_000,
    action: async (order, ctx) => ({ order, ...(await services.reserveInventory(order, ctx.idempotencyKey)) }),
    compensate: async ({ reservationId }, ctx) => services.releaseInventory(reservationId, ctx.idempotencyKey),
  })
  .step({
    name: 'process-payment',
    timeoutMs: 10_000,
    retry: { attempts: 3, initialDelayMs: 100 },
    action: async ({ order }, ctx) => ({ order, ...(await services.processPayment(order, ctx.idempotencyKey)) }),
    compensate: async ({ paymentId }, ctx) => services.refundPayment(paymentId, ctx.idempotencyKey),
  })
  .step({
    name: 'create-shipment',
    timeoutMs: 5_000,
    action: async ({ order }, ctx) => ({ order, ...(await services.createShipment(order, ctx.idempotencyKey)) }),
    compensate: async ({ shipmentId }, ctx) => services.cancelShipment(shipmentId, ctx.idempotencyKey),
  })
  .step({
    name: 'send-confirmation', // a notification: nothing to compensate
    timeoutMs: 3_000,
    action: async ({ order }, ctx) => services.sendConfirmation(order, ctx.idempotencyKey),
  })
  .build();
// #endregion definition

// #region events
const bus = memory();
const events: string[] = [];
const settled = Promise.withResolvers<void>();
await bus.subscribe('saga.events', { group: 'audit' }, async (msg) => {
  const event = json<SagaEvent>().decode(msg);
  switch (event.type) {
    case 'saga.step.completed':
    case 'saga.compensation.completed':
      events.push(`${event.sagaId} ${event.type} ${event.step}`);
      break;
    case 'saga.step.failed':
      events.push(`${event.sagaId} ${event.type} ${event.step}: ${event.error}`);
      break;
    case 'saga.completed':
    case 'saga.rolled_back':
      events.push(`${event.sagaId} ${event.type}`);
      if (events.filter((e) => / saga\.(completed|rolled_back)$/.test(e)).length === 3) settled.resolve();
      break;
    default:
      events.push(`${event.sagaId} ${event.type}`);
  }
});
// #endregion events

// #region orchestrator
const orchestrator = new SagaOrchestrator({
  store: memorySagaStore(),
  sagas: [fulfillment],
  transport: bus, // saga events go to the "saga.events" topic
});
await orchestrator.start(); // resumes unfinished sagas from the store

const [shipped, declined, undeliverable] = await Promise.all([
  orchestrator.run(fulfillment, { orderId: 'order-1', customerId: 'alice', amount: 99.99 }, { id: 'saga-order-1' }),
  orchestrator.run(fulfillment, { orderId: 'order-2', customerId: 'bob', amount: 15 }, { id: 'saga-order-2' }),
  orchestrator.run(fulfillment, { orderId: 'order-3', customerId: 'carol', amount: 42 }, { id: 'saga-order-3' }),
]);
// #endregion orchestrator

await settled.promise;
await orchestrator.close();
await bus.close(); // drains the audit subscription

for (const line of services.log.toSorted()) console.log(line);
for (const saga of [shipped, declined, undeliverable]) {
  console.log(`${saga.id}: ${saga.status} — ${saga.history.map((h) => `${h.kind} ${h.step} ${h.outcome}`).join(', ')}`);
}
console.log(`saga events: ${events.length}`);
for (const line of events) console.log(`  ${line}`);
