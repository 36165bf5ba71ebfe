import { Admin } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { testBrokers } from '../transports/kafka/test-cluster.ts';
import { kafkaBroker } from './brokers.ts';

async function topicExists(topic: string): Promise<boolean> {
  const admin = new Admin({ clientId: 'switchyard-bench-test', bootstrapBrokers: testBrokers() });
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.close();
  }
}

describe('benchmark brokers', () => {
  it('kafka: close deletes the run’s topic (on the mock too, which has no DeleteTopics API)', async () => {
    const opened = await kafkaBroker.open();
    await opened.bus.publish(opened.topic, [{ payload: new Uint8Array(64) }]);
    expect(await topicExists(opened.topic)).toBe(true);
    await opened.close();
    expect(await topicExists(opened.topic)).toBe(false);
  });
});
