import { expect, it } from 'vitest';
import { runExample } from './run-example.ts';

it('examples/01-hello handles every order it publishes on the memory transport', async () => {
  const { stdout } = await runExample('examples/01-hello/main.ts');
  expect(stdout).toMatch(/billing: charged alice 19\.99 for o-1 \(attempt 1\)/);
  expect(stdout).toMatch(/billing: charged bob 5\.00 for o-2/);
  expect(stdout).toMatch(/hello: 3 orders handled, revenue 67\.49/);
});
