import { describe, expect, it } from 'vitest';
import { RETRY_EXPIRY_MARGIN_MS, retryQueueDeclaration } from './retry-queues.ts';

describe('rabbitmq retry queue declarations', () => {
  const base = { 'x-message-ttl': 1_000, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'orders.billing' };

  it('declare no expiry when the group queue has none (as before)', () => {
    expect(retryQueueDeclaration('orders.billing', 1_000, {})).toEqual({ queue: 'orders.billing.retry.1000', durable: true, autoDelete: false, exclusive: false, arguments: base });
  });

  it("expire with the group queue, but never sooner than their delay plus the margin after their last message", () => {
    expect(retryQueueDeclaration('orders.billing', 1_000, { expiresMs: 86_400_000 }).arguments).toEqual({ ...base, 'x-expires': 86_400_000 });
    expect(retryQueueDeclaration('orders.billing', 1_000, { expiresMs: 10 }).arguments).toEqual({ ...base, 'x-expires': 1_000 + RETRY_EXPIRY_MARGIN_MS });
  });

  it('do not expire when quorum, as RabbitMQ does not count a re-declaration as use of a quorum queue', () => {
    expect(retryQueueDeclaration('orders.billing', 1_000, { type: 'quorum', expiresMs: 60_000 }).arguments).toEqual({ ...base, 'x-queue-type': 'quorum' });
  });
});
