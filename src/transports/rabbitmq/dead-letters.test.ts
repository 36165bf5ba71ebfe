import { describe, expect, it } from 'vitest';
import { deathsSinceRedelivery, isRetryDeath } from './dead-letters.ts';
import { publishProblems } from './header-frame.ts';
import { fitName, fromDelivery, redeliveryEnvelope, retryQueueName, toEnvelope } from './mapping.ts';

// Headers as RabbitMQ 3.10 writes them and rabbitmq-client decodes them (captured from the real
// broker): `x-death` most recent first, `x-first-death-*` written once, no `x-last-death-*`, and a
// quorum queue's `x-delivery-count` as a number. The *.int.test.ts files check the same against it.

const published = { id: 'm-1', key: 'k', payload: Buffer.from('p'), headers: { trace: 't-1' }, timestamp: 1_700_000_000_123 };
const group = 'orders.g';
const retry = retryQueueName(group, 200);
const retryQueues = new Set([retry]);
const time = 1_795_608_003;

/** A death entry as the broker writes it for a message published to `exchange` with `routingKey`. */
const death = (queue: string, reason: string, exchange = '', routingKey = queue) => ({ count: 1, reason, queue, time, exchange, 'routing-keys': [routingKey] });

/** What the broker does to a message's headers when `queue` dead-letters it. */
function deadLetter(headers: Record<string, unknown>, entry: ReturnType<typeof death>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...headers, 'x-death': [entry, ...((headers['x-death'] as unknown[] | undefined) ?? [])] };
  if (out['x-first-death-reason'] === undefined) Object.assign(out, { 'x-first-death-reason': entry.reason, 'x-first-death-queue': entry.queue, 'x-first-death-exchange': entry.exchange });
  return out;
}

/** A message published to `orders` that failed in group `g` once and came back through its retry queue. */
function redeliveredOnce() {
  const env = toEnvelope(published, 'switchyard.topics', 'orders', false);
  const first = fromDelivery({ ...env, routingKey: 'orders', body: published.payload }, undefined, retryQueues);
  const again = redeliveryEnvelope(env, first, retry);
  return { first, headers: deadLetter(again.headers!, death(retry, 'expired')) };
}

describe('rabbitmq dead-letter headers', () => {
  it("tells a retry queue's deaths from the broker's own: by name, also for names fitName shortened, and only as the oldest entry", () => {
    expect(isRetryDeath(death(retry, 'expired'), new Set())).toBe(true);
    const long = retryQueueName(`${'q'.repeat(300)}.g`, 200);
    expect(long).toBe(fitName(`${'q'.repeat(300)}.g.retry.200`));
    expect(isRetryDeath(death(long, 'expired'), new Set())).toBe(false);
    expect(isRetryDeath(death(long, 'expired'), new Set([long]))).toBe(true);
    // The group queue's own TTL or limits, a rejection: the broker's.
    for (const reason of ['expired', 'maxlen', 'rejected', 'delivery_limit']) expect(isRetryDeath(death(group, reason), retryQueues)).toBe(false);
    expect(isRetryDeath(death(retry, 'maxlen'), retryQueues)).toBe(false);
    expect(deathsSinceRedelivery([death(retry, 'expired')], retryQueues)).toEqual([]);
    expect(deathsSinceRedelivery([death(group, 'delivery_limit'), death(retry, 'expired')], retryQueues)).toEqual([death(group, 'delivery_limit')]);
    expect(deathsSinceRedelivery([death(group, 'expired')], retryQueues)).toEqual([death(group, 'expired')]);
  });

  it("hides a quorum queue's x-delivery-count, and a redelivery does not copy it as if it had been published", () => {
    const env = toEnvelope(published, 'switchyard.topics', 'orders', false);
    const requeued = { ...env, headers: { ...env.headers, 'x-delivery-count': 1 }, routingKey: 'orders', body: published.payload };
    const m = fromDelivery(requeued, undefined, retryQueues);
    expect(m.headers).toEqual(published.headers);
    expect(m.attempt).toBe(1);
    const again = redeliveryEnvelope(requeued, m, retry);
    expect(again.headers).not.toHaveProperty('x-delivery-count');
    // Back from a queue that does not count (classic): still only what was published.
    expect(fromDelivery({ ...again, routingKey: group, body: published.payload }, undefined, retryQueues).headers).toEqual(published.headers);
  });

  it('refuses to publish a header named x-delivery-count, which the broker overwrites and handlers never see', () => {
    const problems = publishProblems('orders', [{ ...published, headers: { 'x-delivery-count': '3', 'X-Delivery-Count': 'fine' } }], 131_072);
    expect(problems).toEqual([expect.stringContaining('header "x-delivery-count" is RabbitMQ\'s own')]);
  });

  it('keeps hiding the retry queue\'s death of a message back in its group queue', () => {
    const { first, headers } = redeliveredOnce();
    const m = fromDelivery({ headers, messageId: 'm-1', routingKey: group, body: published.payload }, undefined, retryQueues);
    expect(m).toMatchObject({ topic: 'orders', attempt: 2, headers: first.headers });
  });

  for (const [how, delayed] of [
    ['through a retry queue', true],
    ['straight back (delay 0)', false],
  ] as const) {
    it(`shows the broker's dead-lettering of a message redelivered ${how}, at attempt 1 and with the dead-letter queue's topic`, () => {
      const env = toEnvelope(published, 'switchyard.topics', 'orders', false);
      const first = fromDelivery({ ...env, routingKey: 'orders', body: published.payload }, undefined, retryQueues);
      const again = redeliveryEnvelope(env, first, delayed ? retry : group);
      const inGroup = delayed ? deadLetter(again.headers!, death(retry, 'expired')) : again.headers!;
      // Then the group queue dead-letters it (its TTL, max length, delivery limit) to a dead-letter exchange.
      const headers = deadLetter(inGroup, death(group, 'delivery_limit'));
      const m = fromDelivery({ headers, messageId: 'm-1', routingKey: group, body: published.payload }, 'dead-letters', new Set([retryQueueName('dlq', 200)]));
      expect(m.attempt).toBe(1);
      expect(m.topic).toBe('dead-letters');
      expect(m.key).toBe('k');
      expect(m.id).toBe('m-1');
      expect(m.headers).toEqual({
        trace: 't-1',
        'x-first-death-reason': 'delivery_limit',
        'x-first-death-queue': group,
        'x-first-death-exchange': '',
        'x-death': JSON.stringify([death(group, 'delivery_limit')]),
      });
      // Read by a group on the shared exchange, it is the routing key the broker routed it by.
      expect(fromDelivery({ headers, messageId: 'm-1', routingKey: group, body: published.payload }).topic).toBe(group);
    });
  }

  it('lists earlier deaths after the new ones, keeps the first death, and a failure in the dead-letter queue keeps them as the handler saw them', () => {
    // Dead-lettered from `work` into `dlq`, failed there, redelivered through dlq's retry queue ...
    const dlqRetry = retryQueueName('dlq', 200);
    const env = toEnvelope(published, 'switchyard.topics', 'orders', false);
    const inDlq = deadLetter(env.headers!, death('work', 'expired', 'switchyard.topics', 'orders'));
    const atDlq = fromDelivery({ ...env, headers: inDlq, routingKey: 'orders', body: published.payload }, 'dlq-topic', new Set([dlqRetry]));
    const again = redeliveryEnvelope({ ...env, headers: inDlq }, atDlq, dlqRetry);
    // ... and then dlq's max length pushed it on into `archive`.
    const headers = deadLetter(deadLetter(again.headers!, death(dlqRetry, 'expired')), death('dlq', 'maxlen'));
    const m = fromDelivery({ headers, messageId: 'm-1', routingKey: 'dlq', body: published.payload }, 'archive-topic', new Set([retryQueueName('archive', 200)]));
    expect(m).toMatchObject({ topic: 'archive-topic', attempt: 1 });
    expect(m.headers).toEqual({
      trace: 't-1',
      'x-first-death-reason': 'expired',
      'x-first-death-queue': 'work',
      'x-first-death-exchange': 'switchyard.topics',
      'x-death': JSON.stringify([death('dlq', 'maxlen'), death('work', 'expired', 'switchyard.topics', 'orders')]),
    });

    // It fails in archive's handler: the copy comes back with attempt 2 and the same headers.
    const archiveRetry = retryQueueName('archive', 200);
    const retried = redeliveryEnvelope({ headers }, m, archiveRetry);
    const back = fromDelivery({ ...retried, headers: deadLetter(retried.headers!, death(archiveRetry, 'expired')), routingKey: 'archive', body: published.payload }, 'archive-topic', new Set([archiveRetry]));
    expect(back).toMatchObject({ topic: 'archive-topic', attempt: 2, headers: m.headers });
  });

  it('shows x-last-death-* as the broker wrote them, where it writes them (3.10 does not): the newest death', () => {
    const { headers } = redeliveredOnce();
    const withLast = { ...deadLetter(headers, death(group, 'maxlen')), 'x-last-death-reason': 'maxlen', 'x-last-death-queue': group, 'x-last-death-exchange': '' };
    const m = fromDelivery({ headers: withLast, messageId: 'm-1', routingKey: group, body: published.payload }, 'dead-letters', new Set());
    expect(m.headers).toMatchObject({ 'x-first-death-reason': 'maxlen', 'x-first-death-queue': group, 'x-last-death-reason': 'maxlen', 'x-last-death-queue': group, 'x-last-death-exchange': '' });
  });
});
