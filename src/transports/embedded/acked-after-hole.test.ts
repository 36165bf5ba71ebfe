import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { spawnOwner } from './fixtures/spawn-owner.ts';
import { embedded } from './index.ts';

// Regression: only the committed position (the contiguous acknowledged prefix) was written. The
// messages acknowledged after one still failing or in flight were delivered again after a clean
// close and reopen — per-message acknowledgement that a restart forgot.

const temp = (): string => mkdtempSync(join(tmpdir(), 'sy-acked-'));
const jobs = (n: number, prefix = 'm'): Array<{ id: string; key: string; payload: Buffer }> =>
  Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, key: `${prefix}${i}`, payload: Buffer.from(String(i)) }));

/** Subscribes `group` to `topic` and returns what it gets up to (and including) a sentinel published after. */
async function deliveredAfterReopen(dir: string, topic: string, group: string): Promise<string[]> {
  const bus = embedded({ dir, share: false });
  const inbox = new Inbox();
  await bus.subscribe(topic, { group, from: 'earliest', concurrency: 4 }, async (m) => inbox.push(m));
  await bus.publish(topic, [{ id: 'sentinel', key: 'sentinel', payload: Buffer.from('s') }]);
  await inbox.until(() => inbox.ids().has('sentinel'), 10_000, () => 'the sentinel');
  const lag = (await bus.inspect()).find((t) => t.topic === topic)!.groups.find((g) => g.group === group)!.lag;
  await bus.close();
  expect(lag).toBe(0); // everything handled: the committed position went past what was acknowledged before
  return inbox.messages.map((m) => m.id);
}

describe('embedded broker: messages acknowledged after one still out', () => {
  it('are not delivered again after a clean close and reopen, while the failing ones are (on every reopen until they succeed)', async () => {
    const dir = temp();
    for (let round = 0; round < 2; round++) {
      const bus = embedded({ dir, share: false, partitions: 3, redeliveryDelayMs: 5 });
      if (round === 0) await bus.publish('jobs', jobs(60));
      const handled = new Inbox();
      const failed = new Inbox();
      await bus.subscribe('jobs', { group: 'workers', from: 'earliest', concurrency: 4 }, async (m) => {
        if (m.id === 'm-3' || m.id === 'm-40') {
          failed.push(m);
          throw new Error('fails until the next round');
        }
        handled.push(m);
      });
      if (round === 0) await handled.untilCount(58, 10_000);
      else await failed.until(() => failed.ids().size === 2, 10_000, () => 'both failing messages');
      await bus.close();
      if (round === 1) expect(handled.messages).toEqual([]); // none of the 58 came again
    }
    expect((await deliveredAfterReopen(dir, 'jobs', 'workers')).sort()).toEqual(['m-3', 'm-40', 'sentinel']);
  });

  it('are not delivered again when the one before them was still running at close (given up on after drainTimeoutMs)', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false, drainTimeoutMs: 50 });
    await bus.publish('jobs', jobs(30));
    const handled = new Inbox();
    await bus.subscribe('jobs', { group: 'workers', from: 'earliest', concurrency: 2 }, async (m, { signal }) => {
      if (m.id === 'm-1') {
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        throw new Error('aborted');
      }
      handled.push(m);
    });
    await handled.untilCount(29, 10_000);
    await bus.close();
    expect(await deliveredAfterReopen(dir, 'jobs', 'workers')).toEqual(['m-1', 'sentinel']);
  });

  it('are not delivered again to a connected process that takes over from an owner that closed cleanly', async () => {
    const dir = temp();
    const owner = await spawnOwner(dir, 2, { redeliveryDelayMs: 5 });
    const client = embedded({ dir });
    await client.connect();
    expect(client.role).toBe('client');
    const handled = new Inbox();
    const failed = new Inbox();
    await client.subscribe('jobs', { group: 'workers', from: 'earliest', concurrency: 4 }, async (m) => {
      if (m.id === 'm-1') {
        failed.push(m);
        throw new Error('fails on every attempt');
      }
      handled.push(m);
    });
    await client.publish('jobs', jobs(40));
    await handled.untilCount(39, 10_000);
    // The last acknowledgements leave on the next tick, maybe after a request sent now; one sent
    // once that request is answered follows them on the socket: its answer means the owner has them all.
    await client.inspect();
    await client.inspect();

    await owner.stop();
    await client.publish('jobs', [{ id: 'sentinel', key: 'sentinel', payload: Buffer.from('s') }]); // through a takeover
    expect(client.role).toBe('owner');
    const attemptsBefore = failed.messages.length;
    await handled.until(() => handled.ids().has('sentinel'), 10_000, () => 'the sentinel');
    await failed.until(() => failed.messages.length > attemptsBefore, 10_000, () => 'm-1 again, after the takeover');
    expect(handled.messages.length).toBe(40); // the 39 once each, and the sentinel
    await client.close();
  });

  it('are not delivered again when compaction removed, after the close, the unacknowledged record before them', async () => {
    const dir = temp();
    const options = { dir, share: false, segmentBytes: 1024, redeliveryDelayMs: 5, topics: { state: { compact: true } } };
    let bus = embedded(options);
    // m-4 has the key "hot": it fails now, and is superseded after the close.
    // Records of 200 bytes or more: about four a segment, so m-4 is in a closed one, which compaction rewrites.
    const padded = (n: number, prefix: string) => jobs(n, prefix).map((m) => ({ ...m, payload: Buffer.alloc(200, 1) }));
    await bus.publish('state', padded(10, 'm').map((m) => (m.id === 'm-4' ? { ...m, key: 'hot' } : m)));
    const handled = new Inbox();
    await bus.subscribe('state', { group: 'view', from: 'earliest' }, async (m) => {
      if (m.id === 'm-4') throw new Error('fails until superseded');
      handled.push(m);
    });
    await handled.untilCount(9, 10_000);
    await bus.close();

    bus = embedded(options);
    await bus.publish('state', [{ id: 'hot-2', key: 'hot', payload: Buffer.from('new') }, ...padded(10, 'pad')]);
    expect((await bus.maintain()).compactedSegments).toBeGreaterThan(0);
    await bus.close();
    const again = await deliveredAfterReopen(dir, 'state', 'view');
    expect(again).toEqual(['hot-2', ...jobs(10, 'pad').map((m) => m.id), 'sentinel']);
    // And the position written at that close holds: nothing comes again.
    expect(await deliveredAfterReopen(dir, 'state', 'view')).toEqual(['sentinel']);
  });

  it('come again, at least once, when the ranges in the offsets file are not what the broker writes (edited by hand)', async () => {
    const dir = temp();
    let bus = embedded({ dir, share: false });
    await bus.publish('jobs', jobs(5));
    const handled = new Inbox();
    const sub = await bus.subscribe('jobs', { group: 'workers', from: 'earliest' }, async (m) => handled.push(m));
    await handled.untilCount(5, 10_000);
    await sub.close();
    await bus.close();
    // A position of 1 with ranges overlapping and below it: ignored, the position alone counts.
    appendFileSync(join(dir, 'offsets.jsonl'), `${JSON.stringify({ t: 'jobs', g: 'workers', p: 0, o: 1, a: [[0, 3], [2, 4]] })}\n`);
    bus = embedded({ dir, share: false });
    await bus.connect();
    await bus.close();
    expect(readFileSync(join(dir, 'offsets.jsonl'), 'utf8')).toBe(`${JSON.stringify({ t: 'jobs', g: 'workers', p: 0, o: 1 })}\n`);
    expect(await deliveredAfterReopen(dir, 'jobs', 'workers')).toEqual(['m-1', 'm-2', 'm-3', 'm-4', 'sentinel']);
  });
});
