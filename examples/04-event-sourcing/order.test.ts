// The order decider's rules as Given/When/Then specifications: pure logic, no store.
import { describe, it } from 'vitest';
import { DeciderSpecification } from 'switchyard/eventsourcing';
import { OrderRejected, orderDecider, type OrderEvent } from './order.ts';

const item: OrderEvent = { type: 'ItemAdded', data: { productId: 'p-1', quantity: 2, priceCents: 2999 } };
const placed: OrderEvent = { type: 'OrderPlaced', data: { customerId: 'c-1', totalCents: 5998, itemCount: 1 } };
const shipped: OrderEvent = { type: 'OrderShipped', data: { carrier: 'DHL', trackingId: 't-1' } };

describe('order decider', () => {
  // #region spec
  const spec = DeciderSpecification.for(orderDecider);

  it('places an order with items, with its total', () =>
    spec.given([item]).when({ type: 'PlaceOrder', customerId: 'c-1' }).then([placed]));

  it('refuses to place an empty order', () =>
    spec.given([]).when({ type: 'PlaceOrder', customerId: 'c-1' }).thenThrows(OrderRejected));
  // #endregion spec

  it('ships a placed order and delivers a shipped one', async () => {
    await spec.given([item, placed]).when({ type: 'ShipOrder', carrier: 'DHL', trackingId: 't-1' }).then([shipped]);
    await spec.given([item, placed, shipped]).when({ type: 'DeliverOrder' }).then([{ type: 'OrderDelivered', data: {} }]);
  });

  it('refuses out-of-order transitions and bad items', async () => {
    await spec.given([item]).when({ type: 'DeliverOrder' }).thenThrows(/only a shipped order/);
    await spec.given([item]).when({ type: 'ShipOrder', carrier: 'DHL', trackingId: 't' }).thenThrows(/only a placed order/);
    await spec.given([item, placed]).when({ type: 'AddItem', productId: 'p', quantity: 1, priceCents: 1 }).thenThrows(/placed order/);
    await spec.given([item, placed]).when({ type: 'PlaceOrder', customerId: 'c-1' }).thenThrows('already placed');
    await spec.given([]).when({ type: 'AddItem', productId: 'p', quantity: 0, priceCents: 1 }).thenThrows(/positive integer/);
    await spec.given([]).when({ type: 'AddItem', productId: 'p', quantity: 1, priceCents: 1.5 }).thenThrows(/whole cents/);
  });
});
