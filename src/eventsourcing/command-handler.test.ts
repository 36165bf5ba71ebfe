import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isConcurrencyError, isConfigError } from '../core/errors.ts';
import { PermanentError } from '../core/errors.ts';
import { commandHandler } from './command-handler.ts';
import { embeddedSnapshotStore } from './embedded-snapshot-store.ts';
import type { Decider } from './decider.ts';
import type { DomainEvent, EventStore } from './event-store.ts';
import { memoryEventStore } from './memory-event-store.ts';
import { saveSnapshot } from './load-aggregate.ts';
import { memorySnapshotStore, resolveSnapshots } from './snapshots.ts';

type OrderEvent = DomainEvent<'ItemAdded', { priceCents: number }> | DomainEvent<'OrderPlaced', { customerId: string }>;
type Command = { type: 'AddItem'; priceCents: number } | { type: 'PlaceOrder'; customerId: string };
class OrderRejected extends PermanentError {}
/** A cut-down order: items, then placing (not when empty). */
const orderDecider: Decider<{ totalCents: number; status: 'draft' | 'placed' }, Command, OrderEvent> = {
  initialState: () => ({ totalCents: 0, status: 'draft' }),
  decide: (command, state) => {
    if (command.type === 'AddItem') return { type: 'ItemAdded', data: { priceCents: command.priceCents } };
    if (state.totalCents === 0) throw new OrderRejected('empty order');
    return { type: 'OrderPlaced', data: { customerId: command.customerId } };
  },
  evolve: (state, event) =>
    event.type === 'ItemAdded' ? { ...state, totalCents: state.totalCents + event.data.priceCents } : { ...state, status: 'placed' },
};
const add = { type: 'AddItem' as const, priceCents: 100 };

describe('commandHandler', () => {
  it('appends decided events with metadata and returns the new state and version', async () => {
    const store = memoryEventStore<OrderEvent>();
    const orders = commandHandler({ store, decider: orderDecider, streamId: (id) => `order-${id}` });
    const result = await orders.handle('1', add, { metadata: { correlationId: 'corr-1', causationId: 'cmd-1' } });
    expect(result).toMatchObject({ version: 1, attempts: 1, state: { totalCents: 100, status: 'draft' } });
    expect(result.events[0]!.metadata).toEqual({ correlationId: 'corr-1', causationId: 'cmd-1' });
    expect(await store.streamVersion('order-1')).toBe(1);
  });

  it('does not retry a rejected command, and gives up on conflicts after maxRetries', async () => {
    const store = memoryEventStore<OrderEvent>();
    const orders = commandHandler({ store, decider: orderDecider, maxRetries: 0 });
    await expect(orders.handle('o', { type: 'PlaceOrder', customerId: 'c' })).rejects.toBeInstanceOf(OrderRejected);
    const results = await Promise.allSettled([orders.handle('o', add), orders.handle('o', add)]);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(isConcurrencyError(failed.reason)).toBe(true);
    expect((failed.reason as Error).message).toMatch(/stream "o": expected version 0, found 1/);
  });

  it('takes snapshots on demand and loads from them', async () => {
    const store = memoryEventStore<OrderEvent>();
    const snapshots = memorySnapshotStore();
    let reads = 0;
    const counting: EventStore<OrderEvent> = {
      ...store,
      readStream: async (id, options) => {
        const events = await store.readStream(id, options);
        reads += events.length;
        return events;
      },
    };
    const orders = commandHandler({ store: counting, decider: orderDecider, snapshots: { store: snapshots, policy: 'onDemand' } });
    for (let i = 0; i < 5; i++) await orders.handle('o', add);
    expect(await snapshots.load('o', 'default')).toBeUndefined();
    await orders.snapshot('o');
    expect((await snapshots.load('o', 'default'))?.version).toBe(5);
    await orders.handle('o', add);
    reads = 0;
    const { state, version } = await orders.load('o');
    expect(version).toBe(6);
    expect(state.totalCents).toBe(600);
    expect(reads).toBe(1); // only the event after the snapshot
  });

  it('ignores and deletes a snapshot ahead of its stream (events lost in a crash, a newer backup restored): commands go on', async () => {
    const store = memoryEventStore<OrderEvent>();
    const snapshots = memorySnapshotStore();
    const orders = commandHandler({ store, decider: orderDecider, snapshots: { store: snapshots, policy: { every: 2 } }, maxBackoffMs: 0 });
    for (let i = 0; i < 3; i++) await orders.handle('o', add);
    // A snapshot at version 5 of a stream that has 3 events. Loaded, every append expected
    // version 5 and failed with ConcurrencyError.
    await saveSnapshot(resolveSnapshots({ store: snapshots }), 'o', { totalCents: 9_999, status: 'draft' }, 5);
    const result = await orders.handle('o', add);
    expect(result).toMatchObject({ version: 4, attempts: 1, state: { totalCents: 400 } });
    // Replaced by a snapshot of the stream as it is (the policy's, taken by the load that dropped it).
    const fresh = await snapshots.load('o', 'default');
    expect(fresh?.version).toBe(3);
    expect(JSON.parse(new TextDecoder().decode(fresh!.state))).toEqual({ totalCents: 300, status: 'draft' });
    expect(await orders.load('o')).toEqual({ state: { totalCents: 400, status: 'draft' }, version: 4 });
  });

  it('a snapshot that cannot be saved never fails the command whose events were appended, nor later loads', async () => {
    const store = memoryEventStore<OrderEvent>();
    const dir = join(mkdtempSync(join(tmpdir(), 'switchyard-snapshots-')), 'snapshots');
    const snapshots = embeddedSnapshotStore({ dir });
    const failures: Array<{ message: string; streamId: string; version: number }> = [];
    const orders = commandHandler({
      store,
      decider: orderDecider,
      snapshots: { store: snapshots, policy: { every: 1 }, onSaveError: (error, at) => failures.push({ message: error.message, streamId: at.streamId, version: at.version }) },
    });
    // The snapshot directory is gone (a volume unmounted, a cleanup job): every save fails.
    rmSync(dir, { recursive: true });
    try {
      const first = await orders.handle('o', add);
      expect(first).toMatchObject({ version: 1, attempts: 1, state: { totalCents: 100 } });
      // The caller saw success, so it does not run the command again: one event, not two.
      expect(await store.streamVersion('o')).toBe(1);
      expect(await orders.handle('o', add)).toMatchObject({ version: 2, state: { totalCents: 200 } });
      expect(await orders.load('o')).toEqual({ state: { totalCents: 200, status: 'draft' }, version: 2 });
      expect(failures.length).toBeGreaterThanOrEqual(2);
      expect(failures[0]).toMatchObject({ streamId: 'o', version: 1, message: expect.stringMatching(/ENOENT/) });
      // Asked for explicitly, a snapshot that cannot be saved is an error.
      await expect(orders.snapshot('o')).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dirname(dir), { recursive: true, force: true });
    }
  });

  it('reports bad options at construction', () => {
    expect(() => commandHandler({ store: memoryEventStore(), decider: {} as never, maxRetries: -1 })).toThrow(/maxRetries.*\n?/);
    try {
      commandHandler({ store: memoryEventStore(), decider: {} as never, maxRetries: -1 });
    } catch (error) {
      expect(isConfigError(error)).toBe(true);
      expect((error as Error).message).toMatch(/4 problems/);
    }
  });
});
