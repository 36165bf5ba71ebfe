import { expect, it } from 'vitest';
import { demo, type Summary } from './demo-cli.ts';

it('switchyard demo: 10 s of Black Friday with every fault injected ends verified — nothing stuck, nothing charged twice, the DLQ holds exactly the poison', { timeout: 90_000 }, async () => {
  const poison = 7;
  const { code, stdout, stderr } = await demo([
    '--duration', '10', '--rate', '40', '--json',
    '--payment-failures', '10', '--transient-failures', '10', '--duplicates', '10', '--poison', String(poison),
    '--shipping-failures', '5', '--realtime-failures', '10', '--slow-downstream', '2', '--worker-crashes', '2',
  ]);
  const summary = JSON.parse(stdout) as Summary;
  const failed = summary.checks.filter((c) => !c.ok);
  expect(failed, stderr).toEqual([]);
  expect(summary.ok).toBe(true);
  expect(code).toBe(0);

  expect(summary.orders.requested).toBeGreaterThan(200);
  expect(summary.orders.stuck).toEqual([]);
  expect(summary.orders.completed + summary.orders.rolledBack).toBe(summary.orders.requested);
  expect(summary.orders.completed).toBeGreaterThan(0);
  expect(summary.orders.rolledBack).toBeGreaterThan(0);
  // Payments: one charge per completed order plus the rolled-back orders that were charged and refunded.
  expect(summary.payments.charges).toBe(summary.orders.completed + summary.payments.refunds);
  expect(summary.payments.refunds).toBeGreaterThan(0);
  // The faults really happened and were absorbed.
  expect(summary.injected.duplicatesSent).toBeGreaterThan(0);
  expect(summary.observed.duplicatesSkipped).toBe(summary.injected.duplicatesSent);
  expect(summary.observed.paymentDuplicatesAbsorbed).toBeGreaterThan(0);
  expect(summary.observed.breakerOpened).toBeGreaterThan(0);
  expect(summary.observed.retries).toBeGreaterThan(0);
  expect(summary.observed.realtime.failed).toBeGreaterThan(0);
  // The fulfillment worker was killed twice; whatever it was driving was finished by its successor (a check of its own).
  expect(summary.observed.workerCrashes).toHaveLength(2);
  // Each kill landed on a saga mid-run (the demo aims it at the worker's next progress write), so recovery was exercised.
  for (const crash of summary.observed.workerCrashes) expect(crash.inFlight).toBeGreaterThan(0);
  expect(summary.checks.find((c) => c.name === 'sagas of a crashed worker resumed and settled')?.ok).toBe(true);
  // The DLQ holds exactly the injected poison messages, and nothing else is dead-lettered.
  expect(summary.deadLetters.orderRequests).toBe(poison);
  expect(summary.deadLetters.ids).toEqual(summary.injected.poisonIds.toSorted());
  expect(summary.deadLetters.other).toBe(0);
});

it('switchyard demo --profile with an unknown name says which profiles exist and exits with 2', async () => {
  const { code, stderr } = await demo(['--profile', 'cloud', '--duration', '1']);
  expect(code).toBe(2);
  expect(stderr).toMatch(/unknown profile "cloud"; choose embedded or mixed/);
});
