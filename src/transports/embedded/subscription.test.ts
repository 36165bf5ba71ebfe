import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { spawnOwner, type OwnerProcess } from './fixtures/spawn-owner.ts';
import { embedded, type EmbeddedTransport } from './index.ts';

const socketDir = mkdtempSync(join(tmpdir(), 'sy-sub-sock-'));
let owner: OwnerProcess | undefined;
beforeAll(async () => {
  owner = await spawnOwner(socketDir, 2);
});
afterAll(async () => {
  await owner?.stop();
});

const where: Array<[string, () => EmbeddedTransport]> = [
  ['in the owning process', () => embedded({ dir: mkdtempSync(join(tmpdir(), 'sy-sub-')), partitions: 2 })],
  ['through the owner socket', () => embedded({ dir: socketDir })],
];

describe.each(where)('embedded subscriptions %s', (_, open) => {
  it('pause() stops intake while another group proves the messages were dispatched; resume() delivers them', async () => {
    const bus = open();
    const topic = `pause.${Math.random().toString(36).slice(2)}`;
    const paused = new Inbox();
    const witness = new Inbox();
    const sub = await bus.subscribe(topic, { group: 'paused', concurrency: 4 }, async (m) => paused.push(m));
    await bus.subscribe(topic, { group: 'witness' }, async (m) => witness.push(m));
    await bus.publish(topic, { id: 'first', payload: Buffer.from('1') });
    await paused.untilCount(1, 10_000);
    sub.pause();
    expect(sub.paused).toBe(true);
    await bus.publish(topic, Array.from({ length: 20 }, (_, i) => ({ id: `p-${i}`, key: `k${i % 3}`, payload: Buffer.from('x') })));
    await witness.untilCount(21, 10_000);
    expect(paused.messages.map((m) => m.id)).toEqual(['first']);
    sub.resume();
    await paused.untilCount(21, 10_000);
    expect(new Set(paused.ids()).size).toBe(21);
    await bus.close();
  });

  it('close() gives up on a handler that ignores its aborted signal: the group gets that message again first, and its late result commits nothing', async () => {
    const bus = open();
    const topic = `gives-up.${Math.random().toString(36).slice(2)}`;
    const ids = ['m-0', 'm-1', 'm-2'];
    const started = Promise.withResolvers<void>();
    const stuck = Promise.withResolvers<void>();
    const first = await bus.subscribe(topic, { group: 'g', drainTimeoutMs: 100 }, async () => {
      started.resolve();
      await stuck.promise; // ignores its signal
    });
    await bus.publish(topic, ids.map((id) => ({ id, key: 'k', payload: Buffer.from(id) })));
    await started.promise;
    await first.close();
    const lag = async (): Promise<number | undefined> => (await bus.inspect()).find((t) => t.topic === topic)?.groups.find((g) => g.group === 'g')?.lag;
    let lagWhileRunning: number | undefined;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      if (m.id === 'm-0') {
        stuck.resolve(); // the abandoned handler succeeds now, while its message runs here
        await new Promise((resolve) => setTimeout(resolve, 50));
        lagWhileRunning = await lag();
      }
      inbox.push(m);
    });
    await inbox.untilCount(3, 10_000);
    expect(inbox.messages.map((m) => [m.id, m.attempt])).toEqual([
      ['m-0', 2],
      ['m-1', 1],
      ['m-2', 1],
    ]);
    expect(lagWhileRunning).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(inbox.messages).toHaveLength(3);
    expect(await lag()).toBe(0);
    await bus.close();
  });
});
