import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transport } from '../../core/transport.ts';
import { Inbox } from '../../testing/inbox.ts';
import { spawnOwner, type OwnerProcess } from './fixtures/spawn-owner.ts';
import { embedded } from './index.ts';

const socketDir = mkdtempSync(join(tmpdir(), 'sy-sub-sock-'));
let owner: OwnerProcess | undefined;
beforeAll(async () => {
  owner = await spawnOwner(socketDir, 2);
});
afterAll(async () => {
  await owner?.stop();
});

const where: Array<[string, () => Transport]> = [
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
});
