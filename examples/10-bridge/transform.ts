// The transform module named in bridge.yaml: one order in, one shipment out (or several, or
// null to drop it). The payload arrives decoded by the route's `format.in` (JSON by default when
// the route filters on JSON fields).
import type { BridgeMessage, BridgeOutput } from 'switchyard/bridge';

interface Order {
  orderId: string;
  customerId: string;
  status: string;
  total: number;
}

// #region transform
export function toShipment(message: BridgeMessage<Order>): BridgeOutput {
  const order = message.payload;
  return {
    payload: { shipmentFor: order.orderId, customerId: order.customerId, insured: order.total >= 100 },
    headers: { ...message.headers, 'x-shipment': 'v1' }, // leave out `headers` to keep them as they are
  };
}
// #endregion transform
