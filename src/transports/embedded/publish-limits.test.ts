import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import type { OutgoingMessage } from '../../core/message.ts';
import { Inbox } from '../../testing/inbox.ts';
import { spawnOwner } from './fixtures/spawn-owner.ts';
import { embedded, type EmbeddedTransport } from './index.ts';

// A publish the record format cannot hold (an id or header name over 65,535 bytes, more than
// 65,535 headers) used to fail while framing, after its offsets were taken: later records reused
// them, were lost to consumers, and the next open reported the log as corrupt.

const temp = (): string => mkdtempSync(join(tmpdir(), 'sy-limits-'));
const tooLongId = 'x'.repeat(70_000);
const tooManyHeaders = Object.fromEntries(Array.from({ length: 65_536 }, (_, i) => [`h${i}`, '1']));

async function rejection(publish: Promise<void>): Promise<Error> {
  const error = await publish.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(isConfigError(error), String(error)).toBe(true);
  return error!;
}

/** Every record of `topic`, as `partition:offset:id`, read by a new group from the start. */
async function stored(bus: EmbeddedTransport, topic: string): Promise<string[]> {
  const info = (await bus.inspect()).find((t) => t.topic === topic)!;
  const total = info.partitions.reduce((n, p) => n + p.endOffset - p.startOffset, 0);
  const inbox = new Inbox();
  const sub = await bus.subscribe(topic, { group: `check-${Math.random()}`, from: 'earliest' }, async (m) => inbox.push(m));
  await inbox.untilCount(total, 10_000);
  await sub.close();
  return inbox.messages.map((m) => `${m.partition}:${m.offset}:${m.id}`).sort();
}

describe('a publish the embedded log cannot hold', () => {
  it('is refused with a ConfigError naming the message and the limit, and later records keep consecutive offsets, also after a reopen', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false });
    await bus.publish('t', { id: 'm0', payload: Buffer.from('0') });
    const error = await rejection(bus.publish('t', [{ id: 'fine', payload: Buffer.from('-') }, { id: tooLongId, payload: Buffer.from('-') }]));
    expect(error.message).toMatch(/^message "x{64}…": its id is 70000 bytes .*at most 65535 bytes\. Use a shorter id\./);
    await rejection(bus.publish('t', { id: 'headers', headers: tooManyHeaders, payload: Buffer.from('-') }));
    await bus.publish('t', [
      { id: 'm1', payload: Buffer.from('1') },
      { id: 'm2', payload: Buffer.from('2') },
    ]);
    expect(await stored(bus, 't')).toEqual(['0:0:m0', '0:1:m1', '0:2:m2']);
    await bus.close();

    const again = embedded({ dir, share: false });
    expect(await stored(again, 't')).toEqual(['0:0:m0', '0:1:m1', '0:2:m2']);
    await again.close();
  });

  it('stores nothing in any partition when one message of a multi-partition publish is refused', async () => {
    const dir = temp();
    const bus = embedded({ dir, share: false, partitions: 4 });
    const batch: OutgoingMessage[] = Array.from({ length: 12 }, (_, i) => ({ id: `k-${i}`, key: `key-${i}`, payload: Buffer.from('v') }));
    batch.push({ id: 'bad-one', key: 'key-3', headers: tooManyHeaders, payload: Buffer.from('v') }, { id: tooLongId, key: 'key-7', payload: Buffer.from('v') });
    const error = await rejection(bus.publish('spread', batch));
    // Both messages are named, whichever partitions their keys picked.
    expect(error.message).toContain('message "bad-one": it has 65536 headers');
    expect(error.message).toContain('its id is 70000 bytes');
    const partitions = (await bus.inspect()).find((t) => t.topic === 'spread')!.partitions;
    expect(partitions.map((p) => p.endOffset)).toEqual([0, 0, 0, 0]);

    await bus.publish('spread', batch.slice(0, 12));
    const records = await stored(bus, 'spread');
    expect(records).toHaveLength(12);
    // Every partition numbers its records from 0 with no gap.
    for (let p = 0; p < 4; p++) {
      const offsets = records.filter((r) => r.startsWith(`${p}:`)).map((r) => Number(r.split(':')[1]));
      expect(offsets.sort((a, b) => a - b)).toEqual(offsets.map((_, i) => i));
    }
    await bus.close();
  });

  it('is refused in a process connected through the socket, whose connection then carries on', async () => {
    const dir = temp();
    const owner = await spawnOwner(dir);
    const client = embedded({ dir });
    try {
      await client.connect();
      expect(client.role).toBe('client');
      const error = await rejection(client.publish('t', { id: 'named', headers: { ['n'.repeat(70_000)]: 'v' }, payload: Buffer.from('-') }));
      expect(error.message).toMatch(/^message "named": header name "n{64}…" is 70000 bytes/);
      await client.publish('t', { id: 'after', payload: Buffer.from('ok') });
      expect(await stored(client, 't')).toEqual(['0:0:after']);
    } finally {
      await client.close();
      await owner.stop();
    }
  });
});
