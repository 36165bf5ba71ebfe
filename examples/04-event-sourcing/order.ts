// The order aggregate as a decider: commands in, events out, state folded from events.
// Amounts are integer cents (no floating-point drift), and every transition is checked:
// no items after placing, no empty orders, ship only what was placed, deliver only what shipped.
import { PermanentError } from 'switchyard';
import { defineUpcasters, type Decider, type DomainEvent } from 'switchyard/eventsourcing';

// #region events
export type ItemAdded = DomainEvent<'ItemAdded', { productId: string; quantity: number; priceCents: number }>;
export type OrderPlaced = DomainEvent<'OrderPlaced', { customerId: string; totalCents: number; itemCount: number }>;
export type OrderShipped = DomainEvent<'OrderShipped', { carrier: string; trackingId: string }>;
export type OrderDelivered = DomainEvent<'OrderDelivered', Record<string, never>>;
export type OrderEvent = ItemAdded | OrderPlaced | OrderShipped | OrderDelivered;

export type OrderCommand =
  | { type: 'AddItem'; productId: string; quantity: number; priceCents: number }
  | { type: 'PlaceOrder'; customerId: string }
  | { type: 'ShipOrder'; carrier: string; trackingId: string }
  | { type: 'DeliverOrder' };
// #endregion events

export interface Order {
  status: 'draft' | 'placed' | 'shipped' | 'delivered';
  lines: Array<{ productId: string; quantity: number; priceCents: number }>;
  totalCents: number;
  customerId?: string;
}

/** A rejected command: retrying cannot help, so it is permanent. */
export class OrderRejected extends PermanentError {
  constructor(message: string) {
    super(message);
    this.name = 'OrderRejected';
  }
}

// #region decider
export const orderDecider: Decider<Order, OrderCommand, OrderEvent> = {
  initialState: () => ({ status: 'draft', lines: [], totalCents: 0 }),

  decide(command, order) {
    switch (command.type) {
      case 'AddItem': {
        if (order.status !== 'draft') throw new OrderRejected(`cannot add items to a ${order.status} order`);
        const { productId, quantity, priceCents } = command;
        if (!Number.isInteger(quantity) || quantity < 1) throw new OrderRejected(`quantity must be a positive integer, got ${quantity}`);
        if (!Number.isInteger(priceCents) || priceCents < 0) throw new OrderRejected(`price must be whole cents ≥ 0, got ${priceCents}`);
        return [{ type: 'ItemAdded', data: { productId, quantity, priceCents } }];
      }
      case 'PlaceOrder':
        if (order.status !== 'draft') throw new OrderRejected(`order is already ${order.status}`);
        if (order.lines.length === 0) throw new OrderRejected('cannot place an order with no items');
        return [{ type: 'OrderPlaced', data: { customerId: command.customerId, totalCents: order.totalCents, itemCount: order.lines.length } }];
      case 'ShipOrder':
        if (order.status !== 'placed') throw new OrderRejected(`only a placed order can ship; this one is ${order.status}`);
        return [{ type: 'OrderShipped', data: { carrier: command.carrier, trackingId: command.trackingId } }];
      case 'DeliverOrder':
        if (order.status !== 'shipped') throw new OrderRejected(`only a shipped order can be delivered; this one is ${order.status}`);
        return [{ type: 'OrderDelivered', data: {} }];
    }
  },

  evolve(order, event) {
    switch (event.type) {
      case 'ItemAdded':
        return { ...order, lines: [...order.lines, event.data], totalCents: order.totalCents + event.data.quantity * event.data.priceCents };
      case 'OrderPlaced':
        return { ...order, status: 'placed', customerId: event.data.customerId };
      case 'OrderShipped':
        return { ...order, status: 'shipped' };
      case 'OrderDelivered':
        return { ...order, status: 'delivered' };
    }
  },
};
// #endregion decider

// #region upcasters
// Version 1 of ItemAdded carried `price` in currency units (a float); version 2 has integer cents.
// Stored v1 events stay as they are; readers see v2.
export const orderUpcasters = defineUpcasters({
  ItemAdded: {
    1: ({ type, data }) => {
      const { price, ...rest } = data as { productId: string; quantity: number; price: number };
      return { type, data: { ...rest, priceCents: Math.round(price * 100) } };
    },
  },
});
// #endregion upcasters
