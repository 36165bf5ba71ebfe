import { expect, it } from 'vitest';
import { runExample } from './run-example.ts';

it('examples/05-saga completes one order and compensates the two that fail, in reverse order', async () => {
  const { stdout } = await runExample('examples/05-saga/main.ts');
  expect(stdout).toMatch(/^saga-order-1: completed — action reserve-inventory completed, action process-payment completed, action create-shipment completed, action send-confirmation completed$/m);
  expect(stdout).toMatch(/^saga-order-2: rolled_back — action reserve-inventory completed, action process-payment failed, compensation reserve-inventory completed$/m);
  expect(stdout).toMatch(
    /^saga-order-3: rolled_back — action reserve-inventory completed, action process-payment completed, action create-shipment failed, compensation process-payment completed, compensation reserve-inventory completed$/m,
  );
  expect(stdout).toMatch(/^email: confirmation sent to alice$/m);
  expect(stdout).toMatch(/^payments: refunded pay-\d+$/m);
  expect(stdout).toMatch(/^saga events: 18$/m);
  expect(stdout).toMatch(/saga-order-2 saga\.step\.failed process-payment: PermanentError: card declined for order-2/);
});

it('examples/05-saga/choreography ships one order and compensates the one whose payment never answers', async () => {
  const { stdout } = await runExample('examples/05-saga/choreography.ts');
  expect(stdout.trim().split('\n')).toEqual([
    'inventory: released stock for order-2, no shipment within the deadline',
    'inventory: reserved stock for order-1',
    'inventory: reserved stock for order-2',
    'shipping: shipped order-1',
  ]);
});
