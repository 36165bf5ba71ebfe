import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { json } from '../codecs/json.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { CORRELATION_HEADER } from './choreography.ts';
import { deadlineWatcher, watchDeadlines } from './deadline-watcher.ts';
import { memorySagaStore } from './memory-saga-store.ts';
import { SagaSpecification } from './specification.ts';
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
    const a = await store.get('a');
    expect(a).toMatchObject({ saga: 'counter', status: 'completed', state: { total: 100 }, handled: ['m1', 'm3'] });
    expect((await store.get('b'))?.state).toEqual({ total: 5 });
    const forA = totals.messages.filter((m) => m.headers[CORRELATION_HEADER] === 'a');
    // The duplicate re-published its transition's message with the same id; nothing new was decided.
    expect(forA.map((m) => json<{ total: number }>().decode(m).total)).toEqual([10, 10, 100]);
    expect(new Set(forA.map((m) => m.id)).size).toBe(2);
    expect(forA[0]!.headers['x-causation-id']).toBe('m1');
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
      { transport: bus, store: memorySagaStore() }, // a store of its own: both key their instance by the correlation id
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
    const first = await watchDeadlines(options, { transport: bus, store, onTransition: (r) => r.id === 'conv-9' && opened.resolve() });
    await bus.publish('orders.placed', json<unknown>().encode({ orderId: 'o-9' }, { id: 'start-9', headers: { [CORRELATION_HEADER]: 'conv-9' } }));
    await opened.promise;
    await first.close(); // the process stops before the deadline
    expect(late.messages).toHaveLength(0);
    const second = await watchDeadlines(options, { transport: bus, store });
    await late.untilCount(1, 5_000);
    expect(late.messages[0]!.headers[CORRELATION_HEADER]).toBe('conv-9');
    expect((await store.get('conv-9'))?.status).toBe('rolled_back');
    await second.close();
    await bus.close();
  });
});
