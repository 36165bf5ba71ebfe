// The order-summary read model: one row per order, fed by a checkpointed projection.
// It uses event timestamps, never the clock, so a rebuild reproduces it exactly.
import { streamCategory, type Projection, type RecordedEvent } from 'switchyard/eventsourcing';
import type { OrderEvent } from './order.ts';

export interface OrderSummary {
  orderId: string;
  customerId: string | null;
  itemCount: number;
  totalCents: number;
  status: 'draft' | 'placed' | 'shipped' | 'delivered';
  createdAt: number;
  updatedAt: number;
}

// #region projection
export function orderSummaries(): Projection<unknown, OrderEvent> & { rows: Map<string, OrderSummary> } {
  const rows = new Map<string, OrderSummary>();
  return {
    name: 'order-summaries',
    filter: { category: 'order' },
    rows,
    handle(event: RecordedEvent<OrderEvent>) {
      const orderId = event.streamId.slice(streamCategory(event.streamId).length + 1);
      const row = rows.get(orderId) ?? {
        orderId, customerId: null, itemCount: 0, totalCents: 0, status: 'draft', createdAt: event.timestamp, updatedAt: 0,
      };
      row.updatedAt = event.timestamp;
      switch (event.type) {
        case 'ItemAdded':
          row.itemCount++;
          row.totalCents += event.data.quantity * event.data.priceCents;
          break;
        case 'OrderPlaced':
          row.customerId = event.data.customerId;
          row.status = 'placed';
          break;
        case 'OrderShipped':
          row.status = 'shipped';
          break;
        case 'OrderDelivered':
          row.status = 'delivered';
          break;
      }
      rows.set(orderId, row);
    },
    reset: () => rows.clear(),
  };
}
// #endregion projection

/** The read model as canonical JSON (rows sorted by order id): "byte for byte" comparisons use it. */
export function dump(rows: Map<string, OrderSummary>): string {
  return JSON.stringify([...rows.values()].toSorted((a, b) => (a.orderId < b.orderId ? -1 : 1)));
}
