import { Admin } from '@platformatic/kafka';
import { beforeAll, describe, expect, it } from 'vitest';
import { testBrokers, usingMock } from '../../transports/kafka/test-cluster.ts';
import { runBench } from '../runner.ts';
import type { Report } from '../types.ts';
import { kafkaScenario, MOCK_LABEL } from './kafka.ts';

/** Topics this process's Kafka benchmark wrote: `bench.kafka.<what>…` with this pid as a part. */
async function topicsOfThisProcess(): Promise<string[]> {
  const admin = new Admin({ clientId: 'switchyard-bench-test', bootstrapBrokers: testBrokers() });
  try {
    return (await admin.listTopics()).filter((t) => t.startsWith('bench.kafka.') && t.split('.').includes(String(process.pid)));
  } finally {
    await admin.close();
  }
}

describe('kafka benchmark scenario, one quick round', () => {
  let report: Report;
  beforeAll(async () => {
    report = await runBench([kafkaScenario], { quick: true, rounds: 1, log: () => undefined });
  }, 180_000);

  it('measures every case', () => {
    expect(report.skipped).toEqual([]);
    expect(report.results.map((r) => r.ours.median > 0 && (r.baseline?.median ?? 1) > 0)).toEqual([true, true, true, true]);
  });

  it('says on every row when the figures come from the librdkafka mock, not Apache Kafka', () => {
    for (const r of report.results) {
      if (usingMock()) expect(r.name).toContain(MOCK_LABEL);
      else expect(r.name).not.toContain(MOCK_LABEL);
    }
  });

  it('deletes every topic its rounds wrote', async () => {
    expect(await topicsOfThisProcess()).toEqual([]);
  });
});
