// The order aggregate, event-sourced: a decider turns commands into events, and the order's state
// is the fold of its events. Every transition is idempotent (placing a placed order, confirming a
// confirmed one, cancelling a cancelled one produce no event), so a redelivered command or a
// re-run saga step never writes twice. Amounts are integer cents.
import { PermanentError } from 'switchyard';
import type { Decider, DomainEvent } from 'switchyard/eventsourcing';

export interface OrderLine {
  productId: string;
  quantity: number;
  priceCents: number;
}

// #region events
export type OrderPlaced = DomainEvent<'OrderPlaced', { customerId: string; lines: OrderLine[]; totalCents: number; placedAt: number }>;
export type OrderConfirmed = DomainEvent<'OrderConfirmed', { paymentId: string; shipmentId: string }>;
export type OrderCancelled = DomainEvent<'OrderCancelled', { reason: string }>;
export type OrderEvent = OrderPlaced | OrderConfirmed | OrderCancelled;

export type OrderCommand =
  | { type: 'PlaceOrder'; customerId: string; lines: OrderLine[]; placedAt: number }
  | { type: 'ConfirmOrder'; paymentId: string; shipmentId: string }
  | { type: 'CancelOrder'; reason: string };
// #endregion events

export interface Order {
  status: 'none' | 'placed' | 'confirmed' | 'cancelled';
  customerId?: string;
  lines: OrderLine[];
  totalCents: number;
}

/** A command the order cannot accept: retrying cannot help. */
export class OrderRejected extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'OrderRejected';
  }
}

export const totalOf = (lines: readonly OrderLine[]): number => lines.reduce((sum, l) => sum + l.quantity * l.priceCents, 0);

// #region decider
export const orderDecider: Decider<Order, OrderCommand, OrderEvent> = {
  initialState: () => ({ status: 'none', lines: [], totalCents: 0 }),

  decide(command, order) {
    switch (command.type) {
      case 'PlaceOrder': {
        if (order.status !== 'none') return []; // a redelivered request: already placed
        if (command.lines.length === 0) throw new OrderRejected('an order needs at least one line');
        for (const l of command.lines) {
          if (!Number.isInteger(l.quantity) || l.quantity < 1) throw new OrderRejected(`quantity must be a positive integer, got ${l.quantity}`);
          if (!Number.isInteger(l.priceCents) || l.priceCents < 0) throw new OrderRejected(`price must be whole cents ≥ 0, got ${l.priceCents}`);
        }
        const { customerId, lines, placedAt } = command;
        return [{ type: 'OrderPlaced', data: { customerId, lines, totalCents: totalOf(lines), placedAt } }];
      }
      case 'ConfirmOrder':
        if (order.status === 'confirmed') return [];
        if (order.status !== 'placed') throw new OrderRejected(`only a placed order can be confirmed; this one is ${order.status}`);
        return [{ type: 'OrderConfirmed', data: { paymentId: command.paymentId, shipmentId: command.shipmentId } }];
      case 'CancelOrder':
        if (order.status === 'cancelled') return [];
        if (order.status !== 'placed') throw new OrderRejected(`only a placed order can be cancelled; this one is ${order.status}`);
        return [{ type: 'OrderCancelled', data: { reason: command.reason } }];
    }
  },

  evolve(order, event) {
    switch (event.type) {
      case 'OrderPlaced':
        return { status: 'placed', customerId: event.data.customerId, lines: event.data.lines, totalCents: event.data.totalCents };
      case 'OrderConfirmed':
        return { ...order, status: 'confirmed' };
      case 'OrderCancelled':
        return { ...order, status: 'cancelled' };
    }
  },
};
// #endregion decider
