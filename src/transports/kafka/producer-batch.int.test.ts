import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTransportError } from '../../core/errors.ts';
import { startOwnCluster, usingMock, type OwnCluster } from './test-cluster.ts';
import { kafka, type KafkaTransport } from './transport.ts';

// Publishes made in the same turn are merged into one produce request, which the broker accepts
// or refuses whole. producer.batchMaxBytes bounds what is merged, so a refusal (here one pushed
// MESSAGE_TOO_LARGE, on a private librdkafka mock cluster — NOT Apache Kafka) fails only the
// publish in the refused request, not others that happened to be sent with it.

let cluster: OwnCluster;
const open: KafkaTransport[] = [];
beforeAll(async () => {
  if (usingMock()) cluster = await startOwnCluster();
});
afterAll(async () => {
  for (const t of open) await t.close().catch(() => undefined);
  await cluster?.stop();
});

/** Publishes 2 KiB to each of two topics in one turn; what became of each publish. */
async function twoPublishes(batchMaxBytes: number | undefined): Promise<string[]> {
  const t = kafka({ brokers: cluster.brokers, producer: { retries: 0, timeoutMs: 10_000, ...(batchMaxBytes ? { batchMaxBytes } : {}) } });
  open.push(t);
  const run = `${Date.now().toString(36)}${batchMaxBytes ?? 'default'}`;
  const topics = [`batch.${run}.a`, `batch.${run}.b`];
  for (const topic of topics) await cluster.control(`create-topic ${topic} 1 1`);
  await t.connect();
  await t.publish(topics[0]!, { payload: Buffer.alloc(1) }); // the producer has its id and metadata
  // The next produce request is refused (10: MESSAGE_TOO_LARGE in the Kafka protocol).
  await cluster.control('push-errors Produce 10 1');
  const outcomes = await Promise.all(
    topics.map((topic) =>
      t.publish(topic, { payload: Buffer.alloc(2_048) }).then(
        () => 'published',
        (error: unknown) => (isTransportError(error) && /MESSAGE_TOO_LARGE/.test(error.message) ? 'refused' : String(error)),
      ),
    ),
  );
  await cluster.control('clear-errors Produce');
  return outcomes;
}

describe.skipIf(!usingMock())('Kafka producer: publishes merged into one request', () => {
  it('share the fate of that request within batchMaxBytes', async () => {
    expect(await twoPublishes(undefined)).toEqual(['refused', 'refused']);
  });

  it('go in separate requests beyond batchMaxBytes, so a refusal fails only its own publish', async () => {
    expect(await twoPublishes(3_000)).toEqual(['refused', 'published']);
  });
});
