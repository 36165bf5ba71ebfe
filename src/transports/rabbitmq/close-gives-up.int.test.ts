import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isTimeoutError } from '../../core/errors.ts';
import { Inbox } from '../../testing/inbox.ts';
import type { RabbitMQEvent } from './options.ts';
import { isolatedTransports } from './test-support.ts';

const run = randomBytes(4).toString('hex');
const { open, cleanUp } = isolatedTransports(run);
afterAll(cleanUp);

describe('rabbitmq close() with handlers that ignore their aborted signal', () => {
  it('gives up after drainTimeoutMs, says so once, requeues their messages, and ignores what the handlers do later', async () => {
    const events: RabbitMQEvent[] = [];
    const bus = open({ onEvent: (e) => events.push(e) });
    const topic = `gives-up.${run}`;
    const started = new Inbox();
    const stuck = Promise.withResolvers<void>();
    const sub = await bus.subscribe(topic, { group: 'g', concurrency: 2, drainTimeoutMs: 200 }, async (m) => {
      started.push(m);
      await stuck.promise; // ignores its signal
      if (m.id === 'late-failure') throw new Error('fails after close() gave up on it');
    });
    await bus.publish(topic, [
      { id: 'late-success', key: 'a', payload: Buffer.from('1') },
      { id: 'late-failure', key: 'b', payload: Buffer.from('2') },
    ]);
    await started.untilCount(2, 10_000);
    await sub.close();
    const errors = events.filter((e) => e.type === 'error');
    expect(errors).toHaveLength(1);
    expect(isTimeoutError(errors[0]!.error)).toBe(true);
    expect(errors[0]!.error.message).toBe('close() waiting for 2 running handler(s) timed out after 200 ms');
    expect(errors[0]!.context).toMatch(/gave up on them; their messages go back to the queue$/);

    // Both settle now, on a closed channel: no ack, no republish with attempt + 1, no error.
    stuck.resolve();
    const again = new Inbox();
    await bus.subscribe(topic, { group: 'g', concurrency: 2 }, async (m) => again.push(m));
    await again.untilCount(2, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(again.messages.map((m) => m.id).toSorted()).toEqual(['late-failure', 'late-success']);
    expect(again.messages.map((m) => m.attempt)).toEqual([1, 1]); // requeued as they were, not republished
    expect(events.filter((e) => e.type === 'error')).toHaveLength(1);
  });
});
