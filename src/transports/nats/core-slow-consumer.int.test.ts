import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import { deferred } from '../../internal/deferred.ts';
import { Inbox } from '../../testing/inbox.ts';
import type { CoreSubscription } from './core-subscription.ts';
import { nats, type NatsStatus } from './index.ts';

const run = `sy-slow-${randomBytes(4).toString('hex')}`;

it('core mode: a subscription whose buffer is full says so once per overload, counting what it dropped, not once per dropped message', async () => {
  const bus = nats({ mode: 'core', maxBufferedMessages: 50 });
  const statuses: Array<Extract<NatsStatus, { type: 'slow-consumer' }>> = [];
  bus.on('status', (s) => {
    if (s.type === 'slow-consumer') statuses.push(s);
  });
  let gate = deferred();
  try {
    const topic = `${run}.flood`;
    const handled = new Inbox();
    const sub = (await bus.subscribe(topic, { group: 'slow', concurrency: 1 }, async (m) => {
      await gate.promise;
      handled.push(m);
    })) as CoreSubscription;
    // Messages of one connection arrive in the order published: once the marker is here, so is the flood.
    const markers = new Inbox();
    await bus.subscribe(`${run}.marker`, { group: 'marker' }, async (m) => markers.push(m));
    const flood = (): Array<{ payload: Uint8Array }> => Array.from({ length: 1_000 }, () => ({ payload: Uint8Array.of(1) }));

    await bus.publish(topic, flood());
    await bus.publish(`${run}.marker`, { payload: Uint8Array.of(0) });
    await markers.untilCount(1, 10_000);
    expect(sub.dropped).toBe(950);
    expect(statuses).toEqual([{ type: 'slow-consumer', subject: topic, pending: 50, dropped: 1 }]);

    // Drained, then flooded again: a second overload, said once more.
    gate.resolve();
    await handled.untilCount(50, 10_000);
    gate = deferred();
    await bus.publish(topic, flood());
    await bus.publish(`${run}.marker`, { payload: Uint8Array.of(0) });
    await markers.untilCount(2, 10_000);
    expect(sub.dropped).toBe(950 + 950);
    expect(statuses).toHaveLength(2);
    expect(statuses[1]).toEqual({ type: 'slow-consumer', subject: topic, pending: 50, dropped: 951 });
  } finally {
    gate.resolve();
    await bus.close();
  }
});
