// Real-time customer updates: every order event becomes a message on the customer's own topic
// (`orders.updates.<customerId>`) — NATS in the mixed profile. Fire-and-forget: the publish is
// not awaited by the order flow and a failure is counted, never retried, never fails the order.
import { json, TransportError, type OutgoingMessage, type Router, type Transport } from 'switchyard';
import { TOPICS } from './topics.ts';

export interface CustomerUpdate {
  orderId: string;
  status: string;
  at: number;
}

export interface Realtime {
  attempted: number;
  published: number;
  failed: number;
  /** Updates a subscribed customer app received. */
  received: number;
}

// #region realtime
export function realtimeUpdates(router: Router, events: Transport, realtime: Transport, failRate = 0): Realtime {
  const link = flaky(realtime, failRate); // fault injection: a share of publishes fail
  const stats: Realtime = { attempted: 0, published: 0, failed: 0, received: 0 };
  const customers = new Map<string, string>(); // orderId → customerId, from OrderPlaced
  const update = json<CustomerUpdate>();
  router.handle('customer-updates', { from: events, topic: TOPICS.orderEvents, group: 'realtime', concurrency: 8, start: 'earliest' }, async (msg) => {
    const orderId = msg.key.replace(/^order-/, '');
    const type = msg.headers['x-event-type'] ?? 'unknown';
    if (type === 'OrderPlaced') customers.set(orderId, (json<{ customerId: string }>().decode(msg)).customerId);
    const customerId = customers.get(orderId);
    if (!customerId) return;
    if (type !== 'OrderPlaced') customers.delete(orderId);
    const status = type.replace(/^Order/, '').toLowerCase();
    stats.attempted++;
    // Not awaited: the order event is acknowledged whether or not the customer hears about it.
    link.publish(TOPICS.customerUpdates(customerId), update.encode({ orderId, status, at: Date.now() }, { key: orderId })).then(
      () => void stats.published++,
      () => void stats.failed++,
    );
  });
  router.handle('customer-app', { from: realtime, topic: TOPICS.customerUpdatesPattern, group: 'customer-app', concurrency: 8 }, async () => {
    stats.received++;
  });
  return stats;
}
// #endregion realtime

/** Wraps a transport so a share of its publishes fail, as a flaky real-time link would. */
export function flaky(transport: Transport, failRate: number, random: () => number = Math.random): Transport {
  if (failRate <= 0) return transport;
  return new Proxy(transport, {
    get(target, prop, receiver) {
      if (prop === 'publish') {
        return (topic: string, messages: OutgoingMessage | OutgoingMessage[]) =>
          random() < failRate ? Promise.reject(new TransportError(`injected: real-time link dropped a publish to ${topic}`, { retryable: true })) : target.publish(topic, messages);
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
