import { describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { defineCodec } from '../core/codec.ts';
import { DecodeError, isConfigError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { memory } from '../transports/memory/index.ts';
import { Inbox } from '../testing/inbox.ts';
import { memoryCheckpointStore } from './checkpoints.ts';
import { memoryEventStore } from './memory-event-store.ts';
import { ProjectionRunner } from './projection.ts';
import { eventPublisher } from './publish.ts';

describe('ProjectionRunner', () => {
  it('reports a failing handler in its status and rejects waiters; a restart resumes after the last applied event', async () => {
    const store = memoryEventStore();
    const checkpoints = memoryCheckpointStore();
    for (let i = 1; i <= 5; i++) await store.appendToStream('s-1', { type: 'N', data: { i } });
    const applied: number[] = [];
    let failOn: number | undefined = 3;
    const runner = new ProjectionRunner({
      store,
      checkpoints,
      projection: {
        name: 'p',
        handle: (event) => {
          if ((event.data as { i: number }).i === failOn) throw new Error('boom at 3');
          applied.push((event.data as { i: number }).i);
        },
      },
    });
    runner.start();
    await expect(runner.waitForHead()).rejects.toThrow('boom at 3');
    const status = await runner.status();
    expect(status).toMatchObject({ state: 'failed', position: 2, head: 5, lag: 3 });
    expect(status.error?.message).toBe('boom at 3');
    failOn = undefined;
    runner.start(); // after a failure, start() resumes from the checkpoint
    await runner.waitForHead();
    expect(applied).toEqual([1, 2, 3, 4, 5]);
    expect(await runner.status()).toMatchObject({ state: 'live', lag: 0 });
    await runner.stop();
  });

  it('stops at an event its codec cannot read, after applying those before it, and the error says where the event is', async () => {
    // A codec that cannot read events marked bad (once armed: appending decodes what it stored),
    // as a codec meets bytes a faulty writer stored.
    let armed = false;
    const base = json<{ i: number; bad?: boolean }>();
    const picky = defineCodec<{ i: number; bad?: boolean }>({
      contentType: base.contentType,
      toBytes: (value) => base.toBytes(value),
      fromBytes: (bytes, at) => {
        const value = base.fromBytes(bytes, at);
        if (armed && value.bad) throw new DecodeError(at, 'unreadable on purpose');
        return value;
      },
    });
    const store = memoryEventStore({ codec: picky });
    await store.appendToStream('s-1', [1, 2].map((i) => ({ type: 'N', data: { i } })));
    await store.appendToStream('s-2', { type: 'N', data: { i: 3, bad: true } });
    await store.appendToStream('s-1', { type: 'N', data: { i: 4 } });
    armed = true;
    const applied: number[] = [];
    const runner = new ProjectionRunner({ store, checkpoints: memoryCheckpointStore(), projection: { name: 'p', handle: (event) => void applied.push((event.data as { i: number }).i) } });
    runner.start();
    await expect(runner.waitForHead()).rejects.toThrow(DecodeError);
    expect(applied).toEqual([1, 2]); // the same page's good events first
    const status = await runner.status();
    expect(status).toMatchObject({ state: 'failed', position: 2, head: 4 });
    expect(status.error?.message).toMatch(/^cannot decode message \S+ on "s-2": unreadable on purpose \(stream version 1, global position 3, type N\)$/);
    await expect(store.readAll()).rejects.toThrow(/global position 3/); // a plain read never returns part of a page
    await runner.stop();
  });

  it('cannot rebuild a projection without reset()', async () => {
    const runner = new ProjectionRunner({ store: memoryEventStore(), checkpoints: memoryCheckpointStore(), projection: { name: 'x', handle: () => {} } });
    const error = await runner.rebuild().catch((e: unknown) => e);
    expect(isConfigError(error)).toBe(true);
  });

  it('eventPublisher publishes every event, in order, keyed by stream id, from a checkpoint', async () => {
    const store = memoryEventStore();
    const bus = memory();
    const inbox = new Inbox();
    await bus.subscribe('out', { group: 'g' }, async (m: Message) => inbox.push(m));
    await store.appendToStream('order-1', [{ type: 'A', data: 1 }, { type: 'B', data: 2 }]);
    const checkpoints = memoryCheckpointStore();
    const publisher = new ProjectionRunner({ store, checkpoints, projection: eventPublisher({ transport: bus, topic: 'out' }) });
    publisher.start();
    await store.appendToStream('order-2', { type: 'C', data: 3, metadata: { correlationId: 'c' } });
    await inbox.untilCount(3, 5_000);
    expect(inbox.messages.map((m) => [m.key, m.headers['x-event-type'], Buffer.from(m.payload).toString()])).toEqual([
      ['order-1', 'A', '1'],
      ['order-1', 'B', '2'],
      ['order-2', 'C', '3'],
    ]);
    expect(inbox.messages[2]!.headers['x-correlation-id']).toBe('c');
    await publisher.waitForHead();
    expect(await checkpoints.get('publisher')).toBe(3);
    await publisher.stop();
    await bus.close();
  });
});
