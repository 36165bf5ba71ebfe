import { randomBytes } from 'node:crypto';
import { Connection } from 'rabbitmq-client';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultAmqpUrl, rabbitmq } from '../../transports/rabbitmq/index.ts';
import { deleteDeclared } from '../../transports/rabbitmq/test-support.ts';
import { adapterPublish } from './rabbitmq.ts';

describe('rabbitmq benchmark: the adapter side of "confirmed publish"', () => {
  const bus = rabbitmq({ url: defaultAmqpUrl(), prefetch: 100 });
  afterAll(() => deleteDeclared([bus]));

  it('stores every message in a durable queue, as the raw side does, rather than publishing to nowhere', async () => {
    await bus.connect();
    const topic = `bench.test.publish.${randomBytes(4).toString('hex')}`;
    const sample = await adapterPublish(bus, topic, 1_000, randomBytes(1024));
    expect(sample.ops).toBe(1_000);

    const queue = `${topic}.bench`;
    expect(bus.declared().queues).toContain(queue);
    const connection = new Connection({ url: defaultAmqpUrl(), connectionName: 'switchyard bench test' });
    try {
      const { messageCount } = await connection.queueDeclare({ queue, passive: true });
      expect(messageCount).toBe(1_000);
    } finally {
      await connection.close();
    }
  });
});
