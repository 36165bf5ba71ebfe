import { expect, it } from 'vitest';
import { runExample } from '../../test/examples/run-example.ts';

it('examples/02-router: retries the flaky payment, skips the duplicate, dead-letters the poison message', async () => {
  const { stdout } = await runExample('examples/02-router/main.ts');
  expect(stdout).toMatch(/receipt: o-1 19\.99 \(correlation order-o-1\)/);
  expect(stdout).toMatch(/receipt: o-3 42\.50 \(correlation [0-9a-f-]{36}\)/);
  expect(stdout).toMatch(/dead letter: [0-9a-f-]{36} from orders\.placed: DecodeError: cannot decode message .* malformed JSON/);
  expect(stdout).toContain('charge-on-order: stopped, 4 acknowledged, 1 retried, 1 duplicates skipped, 1 dead-lettered');
  expect(stdout).toContain('send-receipt: stopped, 2 acknowledged');
});
