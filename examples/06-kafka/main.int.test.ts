import { expect, it } from 'vitest';
import { runExample } from '../../test/examples/run-example.ts';

// Needs a Kafka: SWITCHYARD_KAFKA_BROKERS or the librdkafka mock cluster of `npm run services` (not Apache Kafka).
it('examples/06-kafka publishes, retries in place, commits, reports lag 0, follows a pattern onto a topic created later and reaches the native admin client', async () => {
  const { stdout } = await runExample('examples/06-kafka/main.ts');
  expect(stdout).toMatch(/billing: alice 19\.99 for o-1 \(partition \d, offset \d+, attempt 1\)/);
  expect(stdout).toMatch(/billing: bob 5\.00 for o-2 \(partition \d, offset \d+, attempt 2\)/);
  expect(stdout).toMatch(/lag: partition 0 committed -?\d+ of \d+ → 0 behind/);
  expect(stdout).toMatch(/native: found examples\.\w+\.orders among \d+ topics/);
  expect(stdout).toMatch(/audit: examples\.\w+\.orders o-1/);
  expect(stdout).toMatch(/audit: examples\.\w+\.refunds o-2/);
  expect(stdout).toContain('kafka example: 3 orders handled, 4 audited, total lag 0');
});
