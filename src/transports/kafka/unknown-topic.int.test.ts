import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { quickConsumer, testBrokers, uniqueTopic } from './test-cluster.ts';
import { kafka } from './transport.ts';

// Against the shared librdkafka mock cluster (NOT Apache Kafka). With topic auto-creation off, a
// topic the cluster does not have made the client's bare "Unknown topic <name>.": it did not say
// what to do.

const t = kafka({ brokers: testBrokers(), consumer: quickConsumer, producer: { autocreateTopics: false } });
afterAll(() => t.close());

const advice = /the cluster has no such topic and did not create it: check the name, create the topic \(or declare it in the transport's topics option\), or let it be created on first use \(producer\.autocreateTopics: true/;

describe('Kafka: a topic the cluster does not have, with auto-creation off', () => {
  it('fails publish() and subscribe() with a ConfigError naming the topic and what to do', async () => {
    const topic = uniqueTopic('not-there');
    const published = await t.publish(topic, { payload: Buffer.from('x') }).then(
      () => new Error('published'),
      (e: unknown) => e as Error,
    );
    expect(isConfigError(published)).toBe(true);
    expect(published.message).toContain(`publish to "${topic}": Unknown topic ${topic}.`);
    expect(published.message).toMatch(advice);

    const subscribed = await t.subscribe(topic, { group: 'g' }, async () => undefined).then(
      async (sub) => {
        await sub.close();
        return new Error('subscribed');
      },
      (e: unknown) => e as Error,
    );
    expect(isConfigError(subscribed)).toBe(true);
    expect(subscribed.message).toContain(`subscribe to "${topic}" as group "g": Unknown topic ${topic}.`);
    expect(subscribed.message).toMatch(advice);
  }, 30_000);
});
