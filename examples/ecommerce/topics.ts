// Topic names of the shop, in one place.
export const TOPICS = {
  /** Order requests from the storefront (processes). Malformed ones end in `<topic>.dlq`. */
  orderRequests: 'orders.requests',
  /** Events appended to the order aggregates, published by the event store (events). */
  orderEvents: 'orders.events',
  /** Saga transitions (events). */
  sagaEvents: 'saga.events',
  /** Emails to send (processes). */
  email: 'notifications.email',
  /** Stock/price queries and their replies (realtime). */
  catalogRequests: 'catalog.requests',
  catalogReplies: 'catalog.replies',
  /** Per-customer updates: `orders.updates.<customerId>` (realtime, fire-and-forget). */
  customerUpdates: (customerId: string) => `orders.updates.${customerId}`,
  customerUpdatesPattern: 'orders.updates.>',
} as const;
