import { describe, it } from 'vitest';
import { DeciderSpecification } from 'switchyard/eventsourcing';
import { orderDecider, type OrderEvent } from './order.ts';

const spec = DeciderSpecification.for(orderDecider);
const lines = [{ productId: 'p001', quantity: 2, priceCents: 1_000 }];
const placed: OrderEvent = { type: 'OrderPlaced', data: { customerId: 'c1', lines, totalCents: 2_000, placedAt: 1 } };
const confirmed: OrderEvent = { type: 'OrderConfirmed', data: { paymentId: 'pay-1', shipmentId: 'ship-1' } };
const cancelled: OrderEvent = { type: 'OrderCancelled', data: { reason: 'card declined' } };

describe('the order aggregate', () => {
  it('places an order with its total in cents', () =>
    spec.given([]).when({ type: 'PlaceOrder', customerId: 'c1', lines, placedAt: 1 }).then([placed]));
  it('ignores a redelivered PlaceOrder: placing twice writes once', () =>
    spec.given([placed]).when({ type: 'PlaceOrder', customerId: 'c1', lines, placedAt: 2 }).then([]));
  it('rejects an order without lines', () => spec.given([]).when({ type: 'PlaceOrder', customerId: 'c1', lines: [], placedAt: 1 }).thenThrows(/at least one line/));
  it('confirms once; a repeated confirmation writes nothing', async () => {
    await spec.given([placed]).when({ type: 'ConfirmOrder', paymentId: 'pay-1', shipmentId: 'ship-1' }).then([confirmed]);
    await spec.given([placed, confirmed]).when({ type: 'ConfirmOrder', paymentId: 'pay-1', shipmentId: 'ship-1' }).then([]);
  });
  it('never cancels a confirmed order, nor confirms a cancelled one', async () => {
    await spec.given([placed, confirmed]).when({ type: 'CancelOrder', reason: 'late' }).thenThrows(/only a placed order can be cancelled/);
    await spec.given([placed, cancelled]).when({ type: 'ConfirmOrder', paymentId: 'pay-1', shipmentId: 'ship-1' }).thenThrows(/only a placed order can be confirmed/);
  });
});
