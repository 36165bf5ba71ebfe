import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `switchyard demo` from the sources; resolves with its exit code and output whatever the code. */
function demo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--conditions=switchyard-source', 'src/cli/main.ts', 'demo', ...args], { cwd: root, timeout: 90_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

interface Summary {
  ok: boolean;
  orders: { requested: number; placed: number; completed: number; rolledBack: number; stuck: string[] };
  injected: { poison: number; duplicatesSent: number; poisonIds: string[] };
  observed: { duplicatesSkipped: number; paymentDuplicatesAbsorbed: number; breakerOpened: number; retries: number; realtime: { failed: number } };
  payments: { charges: number; refunds: number };
  deadLetters: { orderRequests: number; other: number; ids: string[] };
  checks: Array<{ name: string; ok: boolean; detail: string }>;
}

it('switchyard demo: 10 s of Black Friday with every fault injected ends verified — nothing stuck, nothing charged twice, the DLQ holds exactly the poison', { timeout: 90_000 }, async () => {
  const poison = 7;
  const { code, stdout, stderr } = await demo([
    '--duration', '10', '--rate', '40', '--json',
    '--payment-failures', '10', '--transient-failures', '10', '--duplicates', '10', '--poison', String(poison),
    '--shipping-failures', '5', '--realtime-failures', '10', '--slow-downstream', '2',
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
  // The DLQ holds exactly the injected poison messages, and nothing else is dead-lettered.
  expect(summary.deadLetters.orderRequests).toBe(poison);
  expect(summary.deadLetters.ids).toEqual(summary.injected.poisonIds.toSorted());
  expect(summary.deadLetters.other).toBe(0);
});

it('switchyard demo --profile mixed says it is not yet available and exits with 2', async () => {
  const { code, stderr } = await demo(['--profile', 'mixed', '--duration', '1']);
  expect(code).toBe(2);
  expect(stderr).toMatch(/profile "mixed".*not yet available/);
});
