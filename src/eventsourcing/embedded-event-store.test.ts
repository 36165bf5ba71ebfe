import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isConfigError } from '../core/errors.ts';
import { PartitionLog } from '../transports/embedded/partition-log.ts';
import { describeEventStore } from '../testing/index.ts';
import { memoryCheckpointStore } from './checkpoints.ts';
import { embeddedEventStore } from './embedded-event-store.ts';
import { embeddedSnapshotStore } from './embedded-snapshot-store.ts';

const root = mkdtempSync(join(tmpdir(), 'switchyard-es-'));
let n = 0;
const dir = (): string => join(root, `store-${++n}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeEventStore('embedded', (options) => ({
  store: embeddedEventStore({ ...options, dir: dir(), fsync: 'never' }),
  snapshots: embeddedSnapshotStore({ dir: dir() }),
  checkpoints: memoryCheckpointStore(),
}));

describe('embedded event store on disk', () => {
  it('reopens with its per-stream index rebuilt: versions and positions continue', async () => {
    const at = dir();
    const first = embeddedEventStore({ dir: at });
    await first.appendToStream('order-1', [{ type: 'A', data: 1 }, { type: 'B', data: 2 }], { expectedVersion: 'noStream' });
    await first.appendToStream('order-2', { type: 'A', data: 3 });
    await first.close();
    const second = embeddedEventStore({ dir: at });
    expect(await second.streamVersion('order-1')).toBe(2);
    expect(await second.headPosition()).toBe(3);
    const result = await second.appendToStream('order-1', { type: 'C', data: 4 }, { expectedVersion: 2 });
    expect(result.position).toBe(4);
    expect((await second.readStream('order-1')).map((e) => [e.type, e.version, e.position])).toEqual([['A', 1, 1], ['B', 2, 2], ['C', 3, 4]]);
    await second.close();
  });

  it('refuses an event that cannot be framed, storing nothing and leaving the stream at its version', async () => {
    const store = embeddedEventStore({ dir: dir() });
    await store.appendToStream('order-1', { type: 'A', data: 1 });
    const refused = await store.appendToStream('order-1', [{ type: 'B', data: 2 }, { type: 'C', data: 3, id: 'x'.repeat(70_000) }], { expectedVersion: 1 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isConfigError(refused)).toBe(true);
    expect(await store.streamVersion('order-1')).toBe(1);
    await store.appendToStream('order-1', { type: 'B', data: 2 }, { expectedVersion: 1 }); // not a ConcurrencyError
    expect((await store.readStream('order-1')).map((e) => [e.type, e.version, e.position])).toEqual([['A', 1, 1], ['B', 2, 2]]);
    await store.close();
  });

  it('has one owner process: a second store on the same directory is refused with a ConfigError', async () => {
    const at = dir();
    const owner = embeddedEventStore({ dir: at });
    let error: unknown;
    try {
      embeddedEventStore({ dir: at });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatch(/one owner process/);
    await owner.close();
  });

  it('loading one aggregate reads only its own records, not the other streams', async () => {
    const store = embeddedEventStore({ dir: dir(), fsync: 'never' });
    for (let i = 0; i < 50; i++) {
      await store.appendToStream(`noise-${i % 10}`, Array.from({ length: 40 }, (_, j) => ({ type: 'N', data: j })));
      if (i % 5 === 0) await store.appendToStream('order-x', { type: 'A', data: i });
    }
    const read = vi.spyOn(PartitionLog.prototype, 'read');
    const events = await store.readStream('order-x');
    const recordsRead = read.mock.results.reduce((sum, r) => sum + (r.value as { records: unknown[] }).records.length, 0);
    read.mockRestore();
    expect(events.length).toBe(10);
    expect(recordsRead).toBe(10);
    await store.close();
  });
});
