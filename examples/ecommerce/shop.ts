// The whole shop on one Router: order service and fulfillment saga, inventory, payments,
// shipping, the email queue, real-time customer updates, the stock/price query and the
// analytics projection — wired by role onto the profile's transports and stores.
import { correlation, recover, Router, type Logger } from 'switchyard';
import { memoryCheckpointStore, ProjectionRunner } from 'switchyard/eventsourcing';
import type { SagaEvent } from 'switchyard/saga';
import { salesAnalytics, type SalesAnalytics } from './analytics.ts';
import { catalogServer } from './catalog.ts';
import { orderService, type OrderService } from './fulfillment.ts';
import type { Infrastructure } from './infrastructure.ts';
import { Inventory, type Product } from './inventory.ts';
import { notifications, type Notifications } from './notifications.ts';
import { Payments, type PaymentFaults } from './payments.ts';
import { realtimeUpdates, type Realtime } from './realtime.ts';
import type { OrderEvent } from './order.ts';
import { Shipping } from './shipping.ts';

export interface ShopFaults extends PaymentFaults {
  /** Share of orders no courier takes. */
  shippingFailRate: number;
  /** Share of real-time publishes that fail. */
  realtimeFailRate: number;
}

export interface Shop {
  readonly router: Router;
  readonly orders: OrderService;
  readonly inventory: Inventory;
  readonly payments: Payments;
  readonly shipping: Shipping;
  readonly notifications: Notifications;
  readonly realtime: Realtime;
  readonly analytics: SalesAnalytics;
  readonly projection: ProjectionRunner<unknown, OrderEvent>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ShopOptions {
  infra: Infrastructure;
  products: ReadonlyArray<Product & { stock: number }>;
  faults: ShopFaults;
  onSagaEvent?: (event: SagaEvent) => void;
  logger?: Logger;
}

// #region wiring
export function createShop({ infra, products, faults, onSagaEvent, logger }: ShopOptions): Shop {
  const router = new Router({ closeTransports: false, drainTimeoutMs: 10_000, ...(logger ? { logger } : {}) });
  router.use(recover(), correlation());
  const inventory = new Inventory(products);
  const payments = new Payments(faults);
  const shipping = new Shipping(faults.shippingFailRate);
  const orders = orderService({
    router,
    inventory,
    payments,
    shipping,
    processes: infra.processes,
    events: infra.events,
    eventStore: infra.eventStore,
    sagaStore: infra.sagaStore,
    dedup: infra.dedup,
    ...(onSagaEvent ? { onSagaEvent } : {}),
    ...(logger ? { logger } : {}),
  });
  const email = notifications(router, infra.processes, infra.dedup);
  const realtime = realtimeUpdates(router, infra.events, infra.realtime, faults.realtimeFailRate);
  catalogServer(router, infra.realtime, inventory);
  const analytics = salesAnalytics();
  const projection = new ProjectionRunner({ store: infra.eventStore, projection: analytics, checkpoints: memoryCheckpointStore() });
  // #endregion wiring

  return {
    router,
    orders,
    inventory,
    payments,
    shipping,
    notifications: email,
    realtime,
    analytics,
    projection,
    async start() {
      await router.start();
      await orders.worker.start();
      projection.start();
    },
    async stop() {
      await orders.worker.close();
      await projection.stop();
      await router.stop();
    },
  };
}
