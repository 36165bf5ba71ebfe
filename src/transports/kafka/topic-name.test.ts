import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { kafkaTopicProblem } from './topic-name.ts';
import { kafka } from './transport.ts';

describe('Kafka topic names', () => {
  it('accepts what Kafka accepts, and names the characters it does not', () => {
    expect(kafkaTopicProblem('orders.placed_v2-eu', 'topic')).toBeUndefined();
    expect(kafkaTopicProblem('orders.*.>', 'pattern')).toBeUndefined();
    expect(kafkaTopicProblem('orders.tenant:42', 'topic')).toMatch(/^kafka: topic "orders.tenant:42" has characters Kafka topic names cannot hold .*instead of ":" and "@"$/);
    expect(kafkaTopicProblem('mail.user@example', 'pattern')).toMatch(/^kafka: pattern "mail.user@example"/);
  });

  it('refuses to publish to, subscribe to or declare such a topic with a ConfigError, before connecting', async () => {
    // Nothing listens there: the refusal must come before any connection attempt.
    const bus = kafka({ brokers: ['127.0.0.1:1'] });
    const refusal = (work: () => Promise<unknown>): Promise<unknown> => work().then(() => 'accepted', (error: unknown) => error);
    const published = await refusal(() => bus.publish('orders.tenant:42', { payload: new Uint8Array([1]) }));
    expect(isConfigError(published) && (published as Error).message).toMatch(/topic "orders.tenant:42" has characters/);
    const subscribed = await refusal(() => bus.subscribe('orders.*.eu@1', { group: 'g' }, async () => {}));
    expect(isConfigError(subscribed) && (subscribed as Error).message).toMatch(/pattern "orders.\*.eu@1" has characters/);
    await bus.close();
    expect(() => kafka({ brokers: ['127.0.0.1:1'], topics: { 'orders.tenant:42': { partitions: 1 } } })).toThrow(/topics: kafka: topic "orders.tenant:42" has characters/);
  });
});
