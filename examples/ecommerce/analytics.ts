// Analytics: read models projected from the order events — revenue per minute and the top
// products. A checkpointed projection: it catches up from its position and never applies an
// event twice.
import type { Projection, RecordedEvent } from 'switchyard/eventsourcing';
import type { OrderEvent, OrderLine } from './order.ts';

export interface SalesAnalytics extends Projection<unknown, OrderEvent> {
  /** Confirmed revenue per minute (key: ISO minute, `2026-11-27T09:14`). */
  readonly revenuePerMinute: Map<string, number>;
  /** Units sold per product (confirmed orders). */
  readonly unitsSold: Map<string, number>;
  revenueCents: number;
  confirmed: number;
  cancelled: number;
  topProducts(n: number): Array<{ productId: string; units: number }>;
}

// #region analytics
export function salesAnalytics(): SalesAnalytics {
  const open = new Map<string, OrderLine[]>(); // placed, not yet settled
  const self: SalesAnalytics = {
    name: 'sales-analytics',
    filter: { category: 'order' },
    revenuePerMinute: new Map(),
    unitsSold: new Map(),
    revenueCents: 0,
    confirmed: 0,
    cancelled: 0,
    handle(event: RecordedEvent<OrderEvent>) {
      switch (event.type) {
        case 'OrderPlaced':
          open.set(event.streamId, event.data.lines);
          break;
        case 'OrderConfirmed': {
          const lines = open.get(event.streamId) ?? [];
          open.delete(event.streamId);
          const total = lines.reduce((sum, l) => sum + l.quantity * l.priceCents, 0);
          const minute = new Date(event.timestamp).toISOString().slice(0, 16);
          self.revenuePerMinute.set(minute, (self.revenuePerMinute.get(minute) ?? 0) + total);
          for (const l of lines) self.unitsSold.set(l.productId, (self.unitsSold.get(l.productId) ?? 0) + l.quantity);
          self.revenueCents += total;
          self.confirmed++;
          break;
        }
        case 'OrderCancelled':
          open.delete(event.streamId);
          self.cancelled++;
          break;
      }
    },
    topProducts(n) {
      return [...self.unitsSold].map(([productId, units]) => ({ productId, units })).toSorted((a, b) => b.units - a.units || a.productId.localeCompare(b.productId)).slice(0, n);
    },
  };
  return self;
}
// #endregion analytics
