import { randomBytes } from 'node:crypto';
import { afterAll, expect, it } from 'vitest';
import { nats, planStream } from '../../src/transports/nats/index.ts';
import { runExample } from '../../test/examples/run-example.ts';

const app = `sy-example-${randomBytes(4).toString('hex')}`;

afterAll(async () => {
  const admin = nats();
  await admin.connect();
  await admin.native.manager!.streams.delete(planStream(`${app}.x`, admin.options).name).catch(() => undefined);
  await admin.close();
});

it('examples/08-nats: consumes durable orders once each (redelivery, de-duplication), answers a request, reports lag', async () => {
  const { stdout } = await runExample('examples/08-nats/main.ts', [app]);
  expect(stdout).toContain(`billing: charged alice 19.99 for o-1 on ${app}.orders.placed (attempt 1)`);
  expect(stdout).toContain(`billing: charged bob 5.00 for o-2 on ${app}.orders.placed (attempt 2)`);
  expect(stdout).toContain(`billing: charged carol 42.50 for o-3 on ${app}.orders.express (attempt 1)`);
  expect(stdout.match(/for o-1/g)).toHaveLength(1);
  expect(stdout).toContain('pricing: A-1 costs 1299 cents');
  expect(stdout).toContain('pricing: after close, no responders');
  expect(stdout).toContain(`lag: group billing on ${app}.orders.*: 0 pending, 0 unacknowledged`);
  expect(stdout).toContain('nats: charged o-1, o-2, o-3');
});
