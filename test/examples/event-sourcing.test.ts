import { expect, it } from 'vitest';
import { runExample } from './run-example.ts';

it('examples/04-event-sourcing handles orders, retries a conflict, publishes events and rebuilds its projection identically', async () => {
  const { stdout } = await runExample('examples/04-event-sourcing/main.ts');
  expect(stdout).toMatch(/notifier: order-o-1 shipped with DHL/);
  expect(stdout).toMatch(/rejected: cannot place an order with no items/);
  expect(stdout).toMatch(/o-3: versions 1 and 2, attempts 3/);
  expect(stdout).toMatch(/o-1: delivered, 2 lines, total 109\.97, version 5/);
  expect(stdout).toMatch(/rebuild equals live: true/);
  expect(stdout).toMatch(/projection order-summaries: live, position 8, lag 0/);
  // The legacy v1 event (price 1.10 × 3) reads as v2 through the upcaster.
  expect(stdout).toMatch(/summary o-0: draft, 1 items, 3\.30/);
  expect(stdout).toMatch(/summary o-1: delivered, 2 items, 109\.97, customer customer-123/);
});
