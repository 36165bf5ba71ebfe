import { AssertionError } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { CORRELATION_HEADER } from './choreography.ts';
import { deadlineWatcher, watchDeadlines, type DeadlineMissed } from './deadline-watcher.ts';
import { embeddedSagaStore } from './embedded-saga-store.ts';
import { memorySagaStore } from './memory-saga-store.ts';
import { SagaSpecification } from './specification.ts';
import type { SagaRecord, SagaStore } from './saga-store.ts';
import { runStateMachine, type SagaStateMachine } from './state-machine.ts';

const sla = deadlineWatcher({ name: 'sla', start: 'orders.placed', expect: 'shipment.created', withinMs: 1_000, timeoutTopic: 'orders.late' });
const started = { type: 'started', at: 5_000, payload: { orderId: 'o-1' }, correlationId: 'c-1' } as const;

describe('SagaSpecification (Given/When/Then)', () => {
  it('given a started wait, when the deadline passes, then a timeout event is decided and the saga rolls back', () => {
    SagaSpecification.for(sla)
      .given([started])
      .when({ type: 'saga.timed_out', deadline: 6_000 })
      .thenSends([{ topic: 'orders.late', payload: { correlationId: 'c-1', expected: 'shipment.created', deadline: 6_000, started: { orderId: 'o-1' } } }])
      .thenState({ phase: 'timed_out', started: { orderId: 'o-1' }, correlationId: 'c-1' })
      .thenStatus('rolled_back')
      .thenDeadline(undefined);
  });

  it('given nothing, when the wait starts, then a deadline is set; when the event arrives, nothing is sent', () => {
    SagaSpecification.for(sla).given([]).when(started).thenSendsNothing().thenStatus('in_progress').thenDeadline(6_000);
    SagaSpecification.for(sla).given([started]).when({ type: 'arrived' }).thenSendsNothing().thenStatus('completed');
    // The expected event overtook the start: there is nothing to wait for.
    SagaSpecification.for(sla).given([{ type: 'arrived' }]).when(started).thenSendsNothing().thenDeadline(undefined).thenStatus('completed');
    SagaSpecification.for(sla).given([started, { type: 'arrived' }]).when({ type: 'saga.timed_out', deadline: 6_000 }).thenSendsNothing();
  });

  it('fails with a diff when the decision differs', () => {
    expect(() => SagaSpecification.for(sla).given([started]).when({ type: 'saga.timed_out', deadline: 6_000 }).thenSendsNothing()).toThrow(AssertionError);
  });
});

interface Counter {
  total: number;
}
type Added = { type: 'added'; by: number; account: string };

/** Sums amounts per account and announces every total. */
const counter: SagaStateMachine<Counter, Added> = {
  name: 'counter',
  topics: ['amounts'],
  toEvent: (m) => ({ type: 'added', ...json<{ by: number; account: string }>().decode(m) }),
  correlate: (e) => e.account,
  initialState: () => ({ total: 0 }),
  decide: (e, s) => (e.type === 'added' ? [{ topic: 'totals', payload: { account: e.account, total: s.total + e.by } }] : []),
  evolve: (s, e) => (e.type === 'added' ? { total: s.total + e.by } : s),
  status: (s) => (s.total >= 100 ? 'completed' : 'in_progress'),
};

describe('runStateMachine', () => {
  it('persists state per correlation id, publishes decisions with correlation headers, and ignores a redelivered message', async () => {
    const bus = memory();
    const store = memorySagaStore();
    const totals = new Inbox();
    await bus.subscribe('totals', { group: 't' }, async (m) => totals.push(m));
    const runner = await runStateMachine(counter, { transport: bus, store, concurrency: 4 });
    const codec = json<{ by: number; account: string }>();
    await bus.publish('amounts', [
      codec.encode({ by: 10, account: 'a' }, { id: 'm1', key: 'a' }),
      codec.encode({ by: 5, account: 'b' }, { id: 'm2', key: 'b' }),
      codec.encode({ by: 10, account: 'a' }, { id: 'm1', key: 'a' }), // a duplicate delivery
      codec.encode({ by: 90, account: 'a' }, { id: 'm3', key: 'a' }),
      codec.encode({ by: 1, account: 'a' }, { id: 'm4', key: 'a' }), // after completion: ignored
    ]);
    await totals.until(() => totals.messages.some((m) => json<{ total: number }>().decode(m).total === 100), 5_000, () => 'total 100 for a');
    // Record ids are namespaced by the machine: another machine on the same key keeps its own.
    const a = await store.get('counter:a');
    expect(a).toMatchObject({ saga: 'counter', status: 'completed', state: { total: 100 }, handled: ['m1', 'm3'] });
    expect((await store.get('counter:b'))?.state).toEqual({ total: 5 });
    const forA = totals.messages.filter((m) => m.headers[CORRELATION_HEADER] === 'a');
    // The duplicate re-published its transition's message with the same id; nothing new was decided.
    expect(forA.map((m) => json<{ total: number }>().decode(m).total)).toEqual([10, 10, 100]);
    expect(new Set(forA.map((m) => m.id)).size).toBe(2);
    expect(forA[0]!.headers['x-causation-id']).toBe('m1');
    await runner.close();
    await bus.close();
  });

  // Regression: a handler that lost a write to another handler of the same instance read again at
  // once, in lockstep with the others: the same ones kept losing, and after 20 tries the message
  // failed (onError, redelivery) although nothing was wrong.
  it('messages of one instance handled at once are each applied once, none failing on the contention', async () => {
    const bus = memory();
    const store = memorySagaStore();
    const errors: string[] = [];
    const totals = new Inbox();
    await bus.subscribe('totals', { group: 't' }, async (m) => totals.push(m));
    const runner = await runStateMachine(counter, { transport: bus, store, concurrency: 8, onError: (e) => errors.push(e.message) });
    const codec = json<{ by: number; account: string }>();
    // Different keys: the transport hands them to parallel handlers, all correlated to account "hot".
    await bus.publish('amounts', Array.from({ length: 60 }, (_, i) => codec.encode({ by: 1, account: 'hot' }, { id: `h${i}`, key: `k${i}` })));
    await totals.untilCount(60, 10_000);
    expect(errors).toEqual([]);
    expect((await store.get('counter:hot'))?.state).toEqual({ total: 60 });
    expect(totals.messages.map((m) => json<{ total: number }>().decode(m).total).toSorted((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    await runner.close();
    await bus.close();
  });

  it('a deadline further away than a timer can wait (30 days) does not fire early', async () => {
    const bus = memory();
    const store = memorySagaStore();
    const late = new Inbox();
    await bus.subscribe('orders.month-late', { group: 't' }, async (m) => late.push(m));
    await bus.subscribe('orders.soon-late', { group: 't' }, async (m) => late.push(m));
    const month = 30 * 24 * 3_600_000;
    const monthly = await watchDeadlines({ name: 'sla-month', start: 'orders.placed', expect: 'shipment.created', withinMs: month, timeoutTopic: 'orders.month-late' }, { transport: bus, store });
    // The clock of this test: a watcher of the same start with a short deadline. The old code
    // armed the 30-day timer for 1 ms, so its timeout came well before this one.
    const soon = await watchDeadlines(
      { name: 'sla-soon', start: 'orders.placed', expect: 'shipment.created', withinMs: 100, timeoutTopic: 'orders.soon-late' },
      { transport: bus, store },
    );
    await bus.publish('orders.placed', json<unknown>().encode({ orderId: 'o-7' }, { id: 'start-7', headers: { [CORRELATION_HEADER]: 'conv-7' } }));
    await late.untilCount(1, 5_000);
    expect(late.messages.map((m) => m.topic)).toEqual(['orders.soon-late']);
    const record = (await store.list({ saga: 'sla-month' }))[0];
    expect(record?.status).toBe('in_progress');
    expect(record?.deadlineAt).toBeGreaterThan(Date.now() + month - 60_000);
    await monthly.close();
    await soon.close();
    await bus.close();
  });

  it('re-arms a persisted deadline after a restart and fires it', async () => {
    const bus = memory();
    const store = memorySagaStore();
    const late = new Inbox();
    await bus.subscribe('orders.late', { group: 't' }, async (m) => late.push(m));
    const options = { name: 'sla', start: 'orders.placed', expect: 'shipment.created', withinMs: 200, timeoutTopic: 'orders.late' };
    const opened = Promise.withResolvers<void>();
    const first = await watchDeadlines(options, { transport: bus, store, onTransition: (r) => r.id === 'sla:conv-9' && opened.resolve() });
    await bus.publish('orders.placed', json<unknown>().encode({ orderId: 'o-9' }, { id: 'start-9', headers: { [CORRELATION_HEADER]: 'conv-9' } }));
    await opened.promise;
    await first.close(); // the process stops before the deadline
    expect(late.messages).toHaveLength(0);
    // A timeout that settles the instance settles it once its event went out.
    const rolledBack = Promise.withResolvers<void>();
    const second = await watchDeadlines(options, { transport: bus, store, onTransition: (r) => r.status === 'rolled_back' && rolledBack.resolve() });
    await late.untilCount(1, 5_000);
    expect(late.messages[0]!.headers[CORRELATION_HEADER]).toBe('conv-9');
    await rolledBack.promise;
    expect((await store.get('sla:conv-9'))?.status).toBe('rolled_back');
    await second.close();
    await bus.close();
  });

  it('two machines on one store and one conversation keep a record each, and both time out with its correlation id', async () => {
    const bus = memory();
    const store = memorySagaStore();
    const late = new Inbox();
    await bus.subscribe('payment.late', { group: 't' }, async (m) => late.push(m));
    await bus.subscribe('shipping.late', { group: 't' }, async (m) => late.push(m));
    // A timeout that settles the instance settles it once its event went out.
    const settled = new Inbox();
    const rolledBack = new Set<string>();
    const onTransition = (r: SagaRecord): void => {
      if (r.status === 'rolled_back') rolledBack.add(r.id);
      settled.notify();
    };
    const payment = await watchDeadlines(
      { name: 'payment-sla', start: 'orders.placed', expect: 'payment.charged', withinMs: 50, timeoutTopic: 'payment.late' },
      { transport: bus, store, onTransition },
    );
    const shipping = await watchDeadlines(
      { name: 'shipping-sla', start: 'orders.placed', expect: 'shipment.created', withinMs: 80, timeoutTopic: 'shipping.late' },
      { transport: bus, store, onTransition },
    );
    await bus.publish('orders.placed', json<unknown>().encode({ orderId: 'o-1' }, { id: 'start-1', headers: { [CORRELATION_HEADER]: 'conv-1' } }));
    // Before the fix, both used the record "conv-1": the second saw the first's start as a replay and never watched.
    await late.untilCount(2, 5_000);
    expect(late.messages.map((m) => m.topic).sort()).toEqual(['payment.late', 'shipping.late']);
    expect(late.messages.map((m) => m.headers[CORRELATION_HEADER])).toEqual(['conv-1', 'conv-1']);
    expect(new Set(late.messages.map((m) => m.id)).size).toBe(2);
    await settled.until(() => rolledBack.size === 2, 5_000, () => `both instances rolled back (${[...rolledBack].join(', ')})`);
    const records = await store.list();
    expect(records.map((r) => `${r.id} ${r.saga} ${r.status}`).sort()).toEqual(['payment-sla:conv-1 payment-sla rolled_back', 'shipping-sla:conv-1 shipping-sla rolled_back']);
    await payment.close();
    await shipping.close();
    await bus.close();
  });

  it('finds a record stored under the bare correlation id by an earlier version, but not another machine\'s', async () => {
    const bus = memory();
    const store = memorySagaStore();
    const late = new Inbox();
    await bus.subscribe('orders.late', { group: 't' }, async (m) => late.push(m));
    const deadline = Date.now() - 1; // already due: fires when the machine starts
    const waiting = { phase: 'waiting', deadline, started: { orderId: 'o-3' }, correlationId: 'conv-3' };
    await store.create({ id: 'conv-3', saga: 'sla', status: 'in_progress', input: null, step: 0, history: [], state: waiting, deadlineAt: deadline, handled: ['start-3'] });
    // Another machine's record under the key this machine will see next.
    await store.create({ id: 'conv-4', saga: 'other', status: 'in_progress', input: null, step: 0, history: [], state: { phase: 'idle' }, handled: [] });
    const opened = Promise.withResolvers<void>();
    const legacySettled = Promise.withResolvers<void>();
    const runner = await watchDeadlines(
      { name: 'sla', start: 'orders.placed', expect: 'shipment.created', withinMs: 60_000, timeoutTopic: 'orders.late' },
      {
        transport: bus,
        store,
        onTransition: (r) => {
          if (r.id === 'sla:conv-4') opened.resolve();
          if (r.id === 'conv-3' && r.status === 'rolled_back') legacySettled.resolve();
        },
      },
    );
    await late.untilCount(1, 5_000);
    expect(late.messages[0]!.headers[CORRELATION_HEADER]).toBe('conv-3');
    await legacySettled.promise; // settled once its timeout event went out
    expect(await store.get('conv-3')).toMatchObject({ saga: 'sla', status: 'rolled_back' });
    expect(await store.get('sla:conv-3')).toBeUndefined();

    await bus.publish('orders.placed', json<unknown>().encode({ orderId: 'o-4' }, { id: 'start-4', headers: { [CORRELATION_HEADER]: 'conv-4' } }));
    await opened.promise;
    expect(await store.get('sla:conv-4')).toMatchObject({ saga: 'sla', status: 'in_progress', state: { phase: 'waiting', correlationId: 'conv-4' } });
    expect(await store.get('conv-4')).toMatchObject({ saga: 'other', version: 1 });
    await runner.close();
    await bus.close();
  });

  it('waits longer and longer before trying a failing timeout transition again, and fires once the store is back', async () => {
    const bus = memory();
    const inner = memorySagaStore();
    let down = false;
    let failedGets = 0;
    const store: SagaStore = {
      ...inner,
      // An outage of the store: every read fails at once.
      get: async (id) => {
        if (!down) return inner.get(id);
        failedGets++;
        throw new Error('store unavailable');
      },
    };
    const late = new Inbox();
    await bus.subscribe('orders.late', { group: 't' }, async (m) => late.push(m));
    const firstFailure = Promise.withResolvers<void>();
    let errors = 0;
    const runner = await watchDeadlines(
      { name: 'sla', start: 'orders.placed', expect: 'shipment.created', withinMs: 20, timeoutTopic: 'orders.late' },
      {
        transport: bus,
        store,
        onTransition: () => void (down = true), // the wait is persisted; then the store goes down
        onError: () => void (errors++, firstFailure.resolve()),
      },
    );
    await bus.publish('orders.placed', json<unknown>().encode({ orderId: 'o-5' }, { id: 'start-5', headers: { [CORRELATION_HEADER]: 'conv-5' } }));
    await firstFailure.promise;
    // A window of 300 ms after the first failure. With the backoff (100 ms, then 200 ms, …) the
    // timeout is tried at most twice more in it; re-armed at once, it was tried hundreds of times.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(failedGets).toBeLessThanOrEqual(3);
    expect(errors).toBe(failedGets);
    down = false;
    await late.untilCount(1, 10_000);
    expect(late.messages[0]!.headers[CORRELATION_HEADER]).toBe('conv-5');
    await runner.close();
    await bus.close();
  });

  // Regression: a timeout transition that settles the instance (the deadline watcher's always
  // does) was written settled, then its messages published. A crash in between lost them for
  // good: a timeout has no message to be redelivered, and a restart re-publishes only unfinished
  // instances' timeouts. The compensation the timeout event should have started never ran.
  it('a crash right after a timeout transition was written loses no timeout event: the next run publishes it and settles the instance', async () => {
    const at = mkdtempSync(join(tmpdir(), 'sy-deadline-crash-'));
    try {
      const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/deadline-crash.ts', import.meta.url)), at], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
      expect([code, signal], stderr).toEqual([null, 'SIGKILL']);

      const store = embeddedSagaStore({ dir: at });
      const bus = memory();
      const late = new Inbox();
      await bus.subscribe('orders.late', { group: 't' }, async (m) => late.push(m));
      const runner = await watchDeadlines(
        { name: 'sla', start: 'orders.placed', expect: 'shipment.created', withinMs: 50, timeoutTopic: 'orders.late' },
        { transport: bus, store },
      );
      await late.untilCount(1, 10_000);
      const missed = json<DeadlineMissed<{ orderId: string }>>().decode(late.messages[0]!);
      expect(missed).toMatchObject({ correlationId: 'conv-7', started: { orderId: 'o-7' } });
      expect(late.messages[0]!.id).toBe(`sla:conv-7/timeout@${missed.deadline}/0`);
      expect(await store.get('sla:conv-7')).toMatchObject({ status: 'rolled_back', state: { phase: 'timed_out' } });
      // Settled now: a later event of the conversation changes nothing.
      await bus.publish('shipment.created', json<unknown>().encode({}, { id: 'ship-7', headers: { [CORRELATION_HEADER]: 'conv-7' } }));
      await runner.close();
      expect(await store.get('sla:conv-7')).toMatchObject({ status: 'rolled_back', state: { phase: 'timed_out' } });
      await store.close();
      await bus.close();
    } finally {
      rmSync(at, { recursive: true, force: true });
    }
  });
});
