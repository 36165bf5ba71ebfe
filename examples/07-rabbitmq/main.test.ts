import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { Connection } from 'rabbitmq-client';
import { defaultAmqpUrl } from '../../src/transports/rabbitmq/options.ts';
import { runExample } from '../../test/examples/run-example.ts';

const app = `sy-example-${randomBytes(4).toString('hex')}`;

it('examples/07-rabbitmq: charges each order once (one after a delayed redelivery), broadcasts, dead-letters, reports lag', async () => {
  const { stdout } = await runExample('examples/07-rabbitmq/main.ts', [app]);
  try {
    expect(stdout).toContain('billing: charged alice 19.99 for o-1 on orders.placed (attempt 1)');
    expect(stdout).toContain('billing: charged bob 5.00 for o-2 on orders.placed (attempt 2)');
    expect(stdout).toContain('billing: charged carol 42.50 for o-3 on orders.express (attempt 1)');
    expect(stdout).toContain('api: down for maintenance at 02:00');
    expect(stdout).toContain('worker: down for maintenance at 02:00');
    expect(stdout).toContain(`audit: welcome alice dead-lettered (maxlen in ${app}.email)`);
    expect(stdout).toContain(`audit: welcome bob dead-lettered (expired in ${app}.email)`);
    expect(stdout).toContain(`audit: welcome carol dead-lettered (expired in ${app}.email)`);
    expect(stdout).toContain(`lag: group billing on orders.*: 0 ready, 0 unacknowledged (queue ${app}.orders.*.billing)`);
    expect(stdout).toContain('rabbitmq: charged o-1, o-2, o-3');
  } finally {
    // Delete what the example declared: the shared broker keeps nothing.
    const declared = JSON.parse(/declared: (.*)/.exec(stdout)?.[1] ?? '{"queues":[],"exchanges":[]}') as { queues: string[]; exchanges: string[] };
    const admin = new Connection({ url: defaultAmqpUrl() });
    admin.on('error', () => undefined);
    for (const queue of declared.queues.filter((q) => q.startsWith(app))) await admin.queueDelete({ queue });
    for (const exchange of declared.exchanges.filter((e) => e.startsWith(app))) await admin.exchangeDelete({ exchange });
    await admin.close();
  }
});
