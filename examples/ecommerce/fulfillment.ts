// The order service and the fulfillment saga. An order request is appended to the order's event
// stream (event-sourced), then the saga drives it: reserve inventory → charge payment → book
// shipment → confirm, each step compensated in reverse order when a later one fails. The saga's
// outcome goes back to the aggregate (OrderConfirmed by the last step, OrderCancelled on
// rollback), so the order's own stream says how it ended.
import { deadLetter, idempotency, isConcurrencyError, json, retry, type IdempotencyStore, type Router, type Transport } from 'switchyard';
import { commandHandler, type CommandHandler, type EventStore } from 'switchyard/eventsourcing';
import { defineSaga, SagaOrchestrator, type SagaDefinition, type SagaEvent, type SagaLogger, type SagaStore } from 'switchyard/saga';
import type { Inventory } from './inventory.ts';
import type { EmailRequest } from './notifications.ts';
import { orderDecider, totalOf, type Order, type OrderCommand, type OrderEvent, type OrderLine } from './order.ts';
import type { Payments } from './payments.ts';
import { FulfillmentWorker } from './fulfillment-worker.ts';
import type { Shipping } from './shipping.ts';
import { TOPICS } from './topics.ts';

/** What the storefront sends to place an order. */
export interface PlaceOrderRequest {
  orderId: string;
  customerId: string;
  lines: OrderLine[];
  placedAt: number;
}

/** The saga's input: the order as placed. */
export interface FulfillmentInput {
  orderId: string;
  customerId: string;
  totalCents: number;
  lines: OrderLine[];
}

export type Orders = CommandHandler<Order, OrderCommand, OrderEvent>;

export interface FulfillmentDeps {
  orders: Orders;
  inventory: Inventory;
  payments: Payments;
  shipping: Shipping;
  processes: Transport;
}

// #region saga
export function fulfillmentSaga({ orders, inventory, payments, shipping, processes }: FulfillmentDeps): SagaDefinition<FulfillmentInput> {
  return defineSaga<FulfillmentInput>('order-fulfillment')
    .step({
      name: 'reserve-inventory',
      timeoutMs: 5_000,
      // Each step's result is stored with the saga after every step: it carries on only what later
      // steps and compensations need (the lines stay in the saga's input).
      action: async ({ orderId, customerId, totalCents, lines }, ctx) => ({
        order: { orderId, customerId, totalCents },
        ...(await inventory.reserve(orderId, lines, ctx.idempotencyKey)),
      }),
      compensate: async ({ reservationId }, ctx) => inventory.release(reservationId, ctx.idempotencyKey),
    })
    .step({
      name: 'process-payment',
      timeoutMs: 5_000,
      retry: { attempts: 6, initialDelayMs: 5, maxDelayMs: 100 },
      action: async ({ order }) => ({ order, ...(await payments.chargeWithDuplicates(order.orderId, order.totalCents)) }),
      compensate: async ({ order, paymentId }) => payments.refund(order.orderId, paymentId),
    })
    .step({
      name: 'create-shipment',
      timeoutMs: 5_000,
      action: async ({ order, paymentId }, ctx) => ({ order, paymentId, ...(await shipping.book(order.orderId, ctx.idempotencyKey)) }),
      compensate: async ({ shipmentId }) => shipping.cancel(shipmentId),
    })
    .step({
      name: 'confirm-order', // appends OrderConfirmed and queues the confirmation email
      timeoutMs: 5_000,
      action: async ({ order, paymentId, shipmentId }, ctx) => {
        await orders.handle(order.orderId, { type: 'ConfirmOrder', paymentId, shipmentId }, { metadata: { correlationId: order.orderId } });
        const email: EmailRequest = { orderId: order.orderId, customerId: order.customerId, totalCents: order.totalCents };
        await processes.publish(TOPICS.email, json<EmailRequest>().encode(email, { id: ctx.idempotencyKey, key: order.orderId }));
      },
    })
    .build();
}
// #endregion saga

export interface OrderService {
  orders: Orders;
  /** Drives the sagas; the demo crashes and restarts it. */
  worker: FulfillmentWorker;
  saga: SagaDefinition<FulfillmentInput>;
}

export interface OrderServiceDeps extends Omit<FulfillmentDeps, 'orders'> {
  router: Router;
  events: Transport;
  eventStore: EventStore<OrderEvent>;
  sagaStore: SagaStore;
  dedup: IdempotencyStore;
  onSagaEvent?: (event: SagaEvent) => void;
  logger?: SagaLogger;
}

export function orderService(deps: OrderServiceDeps): OrderService {
  const { router, processes, events, eventStore, sagaStore, dedup } = deps;
  const orders: Orders = commandHandler({ store: eventStore, decider: orderDecider, streamId: (id) => `order-${id}`, maxRetries: 10 });
  const saga = fulfillmentSaga({ ...deps, orders });
  const worker = new FulfillmentWorker(
    sagaStore,
    (store) =>
      new SagaOrchestrator({
        store,
        sagas: [saga],
        transport: events,
        // The saga events topic carries the sagas that did not complete, what other services act
        // on (the order's stream hears of rollbacks from it); every event still reaches onEvent.
        publish: ['saga.rolled_back', 'saga.compensation.failed'],
        // A crashed worker's instances are taken over 2 s after its last lease renewal.
        leaseMs: 2_000,
        recoveryIntervalMs: 1_000,
        maxActive: 100_000,
        ...(deps.onSagaEvent ? { onEvent: deps.onSagaEvent } : {}),
        ...(deps.logger ? { logger: deps.logger } : {}),
      }),
  );

  // #region place-order
  router.handle(
    'place-order',
    {
      from: processes,
      topic: TOPICS.orderRequests,
      group: 'orders',
      codec: json<PlaceOrderRequest>(),
      concurrency: 16,
      start: 'earliest',
      use: [retry({ attempts: 3, initialDelayMs: 10 }), deadLetter({ maxAttempts: 5 }), idempotency({ store: dedup })],
    },
    async (msg) => {
      const { orderId, customerId, lines, placedAt } = msg.payload;
      await orders.handle(orderId, { type: 'PlaceOrder', customerId, lines, placedAt }, { metadata: { correlationId: orderId } });
      const input: FulfillmentInput = { orderId, customerId, lines, totalCents: totalOf(lines) };
      try {
        await (await worker.orchestrator()).begin(saga, input, { id: orderId }); // the saga id is the order id: one saga per order
      } catch (error) {
        if (!isConcurrencyError(error)) throw error; // already begun by an earlier delivery
      }
    },
  );
  // #endregion place-order

  // The saga's rollback is written to the order's stream.
  router.handle('order-outcome', { from: events, topic: worker.topic, group: 'orders-outcome', concurrency: 8, start: 'earliest', use: [retry({ attempts: 5 })] }, async (msg) => {
    if (msg.headers['x-saga-event'] !== 'saga.rolled_back') return;
    const event = json<SagaEvent & { type: 'saga.rolled_back' }>().decode(msg);
    await orders.handle(event.sagaId, { type: 'CancelOrder', reason: event.error }, { metadata: { correlationId: event.sagaId } });
  });

  return { orders, worker, saga };
}

