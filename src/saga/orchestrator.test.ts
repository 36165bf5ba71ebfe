import { afterEach, describe, expect, it } from 'vitest';
import { PermanentError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import { Inbox } from '../testing/inbox.ts';
import { memory } from '../transports/memory/index.ts';
import { defineSaga, type SagaDefinition, type StepContext } from './definition.ts';
import type { SagaEvent } from './events.ts';
import { memorySagaStore } from './memory-saga-store.ts';
import { retrySaga } from './retry-saga.ts';
import { SagaOrchestrator, type OrchestratorOptions } from './orchestrator.ts';
import type { SagaRecord, SagaStore } from './saga-store.ts';

const STEPS = ['reserve', 'charge', 'ship', 'notify'] as const;
const quiet = { warn: () => {}, error: () => {} };

interface Log {
  calls: string[];
  keys: string[];
}

/** Four steps; `failAt` fails that step permanently; `notify` has no compensation. */
function fourSteps(log: Log, failAt?: string): SagaDefinition<{ n: number }> {
  const step = (name: string) => async (input: unknown, ctx: StepContext) => {
    log.calls.push(`do:${name}`);
    log.keys.push(ctx.idempotencyKey);
    if (name === failAt) throw new PermanentError(`${name} refused`);
    return { after: name, from: input };
  };
  const undo = (name: string) => async (output: unknown, ctx: StepContext) => {
    expect((output as { after: string }).after).toBe(name); // a compensation gets its own step's result
    log.calls.push(`undo:${name}`);
    log.keys.push(ctx.idempotencyKey);
  };
  return defineSaga<{ n: number }>('four')
    .step({ name: 'reserve', action: step('reserve'), compensate: undo('reserve') })
    .step({ name: 'charge', action: step('charge'), compensate: undo('charge') })
    .step({ name: 'ship', action: step('ship'), compensate: undo('ship') })
    .step({ name: 'notify', action: step('notify') })
    .build();
}

const open: SagaOrchestrator[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

function orchestrator(options: Partial<OrchestratorOptions> & Pick<OrchestratorOptions, 'sagas'>): SagaOrchestrator {
  const o = new SagaOrchestrator({ store: memorySagaStore(), logger: quiet, recoveryIntervalMs: 0, ...options });
  open.push(o);
  return o;
}

/** Makes the store's first write that would set `status` fail, as if the process died before it landed; resolves then. */
function dieOnceAtWrite(store: SagaStore, status: SagaRecord['status']): Promise<void> {
  const update = store.update.bind(store);
  const crashed = Promise.withResolvers<void>();
  let crashes = 1;
  store.update = async (record, lease) => {
    if (record.status === status && crashes-- > 0) {
      crashed.resolve();
      throw new Error('the process died before this write reached the store');
    }
    return update(record, lease);
  };
  return crashed.promise;
}

const summary = (r: SagaRecord): string[] => r.history.map((h) => `${h.kind}:${h.step}:${h.outcome}`);

describe('SagaOrchestrator', () => {
  it('runs every step in order, each getting the previous result, and persists completed with the full history', async () => {
    const log: Log = { calls: [], keys: [] };
    const events: SagaEvent[] = [];
    const saga = fourSteps(log);
    const o = orchestrator({ sagas: [saga], onEvent: (e) => events.push(e) });
    const record = await o.run(saga, { n: 1 }, { id: 's-ok' });
    expect(record.status).toBe('completed');
    expect(log.calls).toEqual(['do:reserve', 'do:charge', 'do:ship', 'do:notify']);
    expect(log.keys).toEqual(['s-ok:reserve', 's-ok:charge', 's-ok:ship', 's-ok:notify']);
    expect(summary(record)).toEqual(STEPS.map((s) => `action:${s}:completed`));
    expect(record.history[1]!.output).toEqual({ after: 'charge', from: { after: 'reserve', from: { n: 1 } } });
    expect(events.map((e) => e.type)).toEqual([
      'saga.started',
      'saga.step.completed',
      'saga.step.completed',
      'saga.step.completed',
      'saga.step.completed',
      'saga.completed',
    ]);
    expect(await o.status('s-ok')).toEqual(record);
    // Settled: no orchestrator holds it any more (saga show must not show a lease), though the
    // record still says who settled it.
    expect(record.leaseUntil).toBeUndefined();
    expect(record.owner).toBe(o.owner);
  });

  for (const [i, failing] of STEPS.entries()) {
    it(`a failure at step ${i + 1} ("${failing}") compensates exactly the completed steps, in reverse order, recorded in the history`, async () => {
      const log: Log = { calls: [], keys: [] };
      const events: SagaEvent[] = [];
      const saga = fourSteps(log, failing);
      const o = orchestrator({ sagas: [saga], onEvent: (e) => events.push(e) });
      const record = await o.run(saga, { n: 1 }, { id: `s-${failing}` });
      const done = STEPS.slice(0, i);
      const compensated = done.filter((s) => s !== 'notify').toReversed();
      expect(record.status).toBe('rolled_back');
      expect(log.calls).toEqual([...STEPS.slice(0, i + 1).map((s) => `do:${s}`), ...compensated.map((s) => `undo:${s}`)]);
      expect(summary(record)).toEqual([
        ...done.map((s) => `action:${s}:completed`),
        `action:${failing}:failed`,
        ...compensated.map((s) => `compensation:${s}:completed`),
      ]);
      expect(record.error).toMatch(new RegExp(`step "${failing}" failed: PermanentError: ${failing} refused`));
      expect(log.keys.slice(i + 1)).toEqual(compensated.map((s) => `s-${failing}:${s}:compensation`));
      expect(events.map((e) => e.type)).toEqual([
        'saga.started',
        ...done.map(() => 'saga.step.completed'),
        'saga.step.failed',
        ...compensated.map(() => 'saga.compensation.completed'),
        'saga.rolled_back',
      ]);
      // The persisted record says the same.
      expect(await o.status(record.id)).toEqual(record);
    });
  }

  it('retries a failing action with backoff, passing the same idempotency key on every try', async () => {
    const keys: string[] = [];
    const saga = defineSaga<number>('flaky')
      .step({
        name: 'flaky',
        retry: { attempts: 4, initialDelayMs: 1 },
        action: async (n, ctx) => {
          keys.push(`${ctx.idempotencyKey}#${ctx.attempt}`);
          if (ctx.attempt < 3) throw new Error('transient');
          return n * 2;
        },
      })
      .build();
    const o = orchestrator({ sagas: [saga] });
    const record = await o.run(saga, 21, { id: 'f' });
    expect(record.status).toBe('completed');
    expect(keys).toEqual(['f:flaky#1', 'f:flaky#2', 'f:flaky#3']);
    expect(record.history[0]).toMatchObject({ outcome: 'completed', attempts: 3, output: 42 });
  });

  it('does not retry a PermanentError', async () => {
    let tries = 0;
    const saga = defineSaga<number>('permanent')
      .step({
        name: 'no',
        retry: { attempts: 5, initialDelayMs: 1 },
        action: async () => {
          tries++;
          throw new PermanentError('no');
        },
      })
      .build();
    const record = await orchestrator({ sagas: [saga] }).run(saga, 1);
    expect(record.status).toBe('rolled_back');
    expect(tries).toBe(1);
  });

  it('fails a step whose output cannot be stored, once, and compensates it too: its action ran', async () => {
    const calls: string[] = [];
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const saga = defineSaga<number>('unstorable')
      .step({ name: 'reserve', action: async () => (calls.push('do:reserve'), { id: 'r-1' }), compensate: async () => void calls.push('undo:reserve') })
      .step({ name: 'charge', action: async () => (calls.push('do:charge'), { amount: 10n }), compensate: async (output) => void calls.push(`undo:charge(${String(output)})`) })
      .step({ name: 'loop', action: async () => (calls.push('do:loop'), cyclic) })
      .build();
    const record = await orchestrator({ sagas: [saga] }).run(saga, 1);
    expect(record.status).toBe('rolled_back');
    expect(calls).toEqual(['do:reserve', 'do:charge', 'undo:charge(undefined)', 'undo:reserve']);
    expect(record.error).toMatch(/^step "charge" returned an output that cannot be stored as JSON \(.*BigInt.*\); return plain data: no BigInt, no cycles, no U\+0000 or lone surrogates in strings$/);
    expect(record.history[1]).toMatchObject({ step: 'charge', kind: 'action', outcome: 'completed', attempts: 1, error: expect.stringMatching(/^output not stored: .*BigInt/) });
    expect(record.history[1]).not.toHaveProperty('output');
  });

  it('an action or compensation written without async succeeds with its plain return value: run once, compensated once', async () => {
    const calls: string[] = [];
    // As plain JavaScript would pass them: no Promise returned.
    const saga = defineSaga<number>('sync-steps')
      .step({ name: 'reserve', action: ((n: number) => (calls.push('do:reserve'), { id: `r-${n}` })) as never, compensate: ((r: { id: string }) => void calls.push(`undo:${r.id}`)) as never })
      .step({ name: 'charge', retry: { attempts: 1 }, action: async () => Promise.reject(new PermanentError('declined')) })
      .build();
    const record = await orchestrator({ sagas: [saga] }).run(saga, 7);
    expect(record.status).toBe('rolled_back');
    expect(calls).toEqual(['do:reserve', 'undo:r-7']);
    expect(summary(record)).toEqual(['action:reserve:completed', 'action:charge:failed', 'compensation:reserve:completed']);
  });

  it('refuses, with one ConfigError saying why, an input or id that no saga store can keep', async () => {
    const saga = fourSteps({ calls: [], keys: [] });
    const o = orchestrator({ sagas: [saga] });
    await expect(o.begin(saga, { n: 1, big: 1n } as never)).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/saga input cannot be stored as JSON \(.*BigInt/) });
    await expect(o.begin(saga, { n: 1, note: 'a\u0000' } as never)).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/saga input .*U\+0000/) });
    await expect(o.begin(saga, { n: 1 }, { id: 'x'.repeat(1_025) })).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/saga id "x+"… is 1025 bytes long; the limit is 1024/) });
    await expect(o.begin(saga, { n: 1 }, { id: '' })).rejects.toMatchObject({ code: 'CONFIG' });
    expect(await o.list()).toEqual([]);
  });

  it('times out a step that never answers, aborts its signal and compensates the steps before it', async () => {
    const log: string[] = [];
    let aborted: unknown;
    const saga = defineSaga<string>('hangs')
      .step({ name: 'reserve', action: async () => 'r-1', compensate: async (r) => void log.push(`release ${r}`) })
      .step({
        name: 'wait-forever',
        timeoutMs: 50,
        action: (_input, ctx) =>
          new Promise<never>(() => {
            ctx.signal.addEventListener('abort', () => (aborted = ctx.signal.reason));
          }),
      })
      .build();
    const events: SagaEvent[] = [];
    const record = await orchestrator({ sagas: [saga], onEvent: (e) => events.push(e) }).run(saga, 'x');
    expect(record.status).toBe('rolled_back');
    expect(summary(record)).toEqual(['action:reserve:completed', 'action:wait-forever:timed_out', 'compensation:reserve:completed']);
    expect(log).toEqual(['release r-1']);
    expect(String(aborted)).toMatch(/timed out after 50 ms/);
    expect(events.find((e) => e.type === 'saga.step.failed')).toMatchObject({ timedOut: true, step: 'wait-forever' });
  });

  it('a compensation that keeps failing ends compensation_failed, reported by event, metric and dead-letter record; retry() finishes the rollback', async () => {
    let healthy = false;
    const undone: string[] = [];
    const saga = defineSaga<string>('stuck')
      .step({ name: 'a', action: async () => 'a', compensate: async () => void undone.push('a') })
      .step({
        name: 'b',
        action: async () => 'b',
        compensationRetry: { attempts: 3, initialDelayMs: 1 },
        compensate: async () => {
          if (!healthy) throw new Error('refund service down');
          undone.push('b');
        },
      })
      .step({
        name: 'c',
        action: async () => {
          throw new PermanentError('c refused');
        },
      })
      .build();
    const bus = memory();
    const dlq = new Inbox();
    const sagaEvents = new Inbox();
    await bus.subscribe('saga.events.dlq', { group: 'ops' }, async (m) => dlq.push(m));
    await bus.subscribe('saga.events', { group: 'audit' }, async (m) => sagaEvents.push(m));
    const counted: string[] = [];
    const o = orchestrator({ sagas: [saga], transport: bus, metrics: { count: (type, name) => counted.push(`${name}:${type}`) } });
    const failed = await o.run(saga, 'in', { id: 'stuck-1' });
    expect(failed.status).toBe('compensation_failed');
    // Settled until an operator retries it: no orchestrator holds it (saga show must not show a
    // lease), though the record still says who settled it.
    expect(failed.leaseUntil).toBeUndefined();
    expect((await o.status('stuck-1'))?.leaseUntil).toBeUndefined();
    expect(failed.owner).toBe(o.owner);
    expect(summary(failed)).toEqual(['action:a:completed', 'action:b:completed', 'action:c:failed', 'compensation:b:failed']);
    expect(failed.history.at(-1)).toMatchObject({ attempts: 3, error: 'Error: refund service down' });
    expect(undone).toEqual([]); // "a" is not compensated before "b": reverse order holds
    expect(counted).toContain('stuck:saga.compensation.failed');
    expect(o.counts()['saga.compensation.failed']).toBe(1);
    await dlq.untilCount(1, 5_000);
    const letter: Message = dlq.messages[0]!;
    expect(letter.headers).toMatchObject({ 'x-saga-id': 'stuck-1', 'x-failed-step': 'b', 'x-attempts': '3', 'x-saga': 'stuck' });
    expect(JSON.parse(Buffer.from(letter.payload).toString())).toMatchObject({ id: 'stuck-1', status: 'compensation_failed' });
    await sagaEvents.until(
      () => sagaEvents.messages.some((m) => m.headers['x-saga-event'] === 'saga.compensation.failed'),
      5_000,
      () => 'saga.compensation.failed on saga.events',
    );

    healthy = true;
    const retried = await o.retry('stuck-1');
    expect(retried.status).toBe('rolled_back');
    expect(undone).toEqual(['b', 'a']);
    expect(summary(retried).slice(4)).toEqual(['compensation:b:completed', 'compensation:a:completed']);
    await bus.close();
  });

  it('publishes every event to the configured topic on the transport, keyed by saga id, with stable ids', async () => {
    const bus = memory();
    const inbox = new Inbox();
    await bus.subscribe('orders.saga', { group: 'g' }, async (m) => inbox.push(m));
    const saga = fourSteps({ calls: [], keys: [] });
    await orchestrator({ sagas: [saga], transport: bus, topic: 'orders.saga' }).run(saga, { n: 1 }, { id: 'pub-1' });
    await inbox.untilCount(6, 5_000);
    expect(inbox.messages.map((m) => m.headers['x-saga-event'])).toEqual([
      'saga.started',
      'saga.step.completed',
      'saga.step.completed',
      'saga.step.completed',
      'saga.step.completed',
      'saga.completed',
    ]);
    expect(new Set(inbox.messages.map((m) => m.key))).toEqual(new Set(['pub-1']));
    expect(inbox.messages[0]!.id).toBe('pub-1@1');
    const completed = JSON.parse(Buffer.from(inbox.messages[5]!.payload).toString()) as SagaEvent;
    expect(completed).toMatchObject({ type: 'saga.completed', sagaId: 'pub-1', saga: 'four' });
    await bus.close();
  });

  it('publishes only the event types listed in `publish`, while onEvent still gets every event', async () => {
    const bus = memory();
    const inbox = new Inbox();
    await bus.subscribe('orders.saga', { group: 'g' }, async (m) => inbox.push(m));
    const saga = fourSteps({ calls: [], keys: [] });
    const seen: string[] = [];
    const o = orchestrator({ sagas: [saga], transport: bus, topic: 'orders.saga', publish: ['saga.completed', 'saga.rolled_back'], onEvent: (e) => seen.push(e.type) });
    await o.run(saga, { n: 1 }, { id: 'outcome-1' });
    await inbox.untilCount(1, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 20)); // nothing else arrives
    expect(inbox.messages.map((m) => m.headers['x-saga-event'])).toEqual(['saga.completed']);
    expect(seen).toHaveLength(6);
    expect(() => orchestrator({ sagas: [saga], publish: ['saga.finished' as never] })).toThrow(/"saga\.finished", which is not a saga event type/);
    await bus.close();
  });

  it('a recovery scan while begin() is still writing the new instance leaves it to begin(): no takeover, no second run of its first step', async () => {
    const log: Log = { calls: [], keys: [] };
    const saga = fourSteps(log);
    const store = memorySagaStore();
    const create = store.create.bind(store);
    let scanned: Promise<number> | undefined;
    const warnings: string[] = [];
    const o = orchestrator({ sagas: [saga], store, logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) } });
    await o.start();
    // The scan runs once the record is stored and before begin() gets the answer (a durable write takes a while).
    store.create = async (record, lease) => {
      const created = await create(record, lease);
      scanned = o.recover();
      await scanned;
      return created;
    };
    const record = await o.run(saga, { n: 1 }, { id: 'race-1' });
    expect(await scanned).toBe(0);
    expect(record).toMatchObject({ status: 'completed', version: 6 });
    expect(log.calls).toEqual(['do:reserve', 'do:charge', 'do:ship', 'do:notify']);
    expect(warnings).toEqual([]);
  });

  it('publishes an event while the next step runs, and always before the next write replaces it as lastEvent', async () => {
    const bus = memory();
    const order: string[] = [];
    // The same memory transport, its publishes slowed down so a step can overlap them.
    const slow: Transport = {
      name: bus.name,
      capabilities: bus.capabilities,
      connect: () => bus.connect(),
      subscribe: (topic, options, handler) => bus.subscribe(topic, options, handler),
      close: () => bus.close(),
      publish: async (topic, messages) => {
        const type = (Array.isArray(messages) ? messages[0] : messages).headers?.['x-saga-event'];
        order.push(`publishing ${type}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await bus.publish(topic, messages);
        order.push(`published ${type}`);
      },
    };
    const store = memorySagaStore();
    const update = store.update.bind(store);
    store.update = async (record, lease) => {
      order.push(`write ${record.lastEvent?.type}`);
      return update(record, lease);
    };
    const saga = defineSaga<{ n: number }>('two')
      .step({ name: 'a', action: async () => void order.push('step a') })
      .step({ name: 'b', action: async () => void order.push('step b') })
      .build();
    const record = await orchestrator({ sagas: [saga], store, transport: slow, topic: 'two.saga' }).run(saga, { n: 1 }, { id: 'overlap-1' });
    expect(record.status).toBe('completed');
    expect(order).toEqual([
      'publishing saga.started',
      'step a', // runs while saga.started is being published
      'published saga.started',
      'write saga.step.completed',
      'publishing saga.step.completed',
      'step b',
      'published saga.step.completed',
      'write saga.step.completed',
      'publishing saga.step.completed',
      'published saga.step.completed',
      // The settling event goes out before the settling write: recovery never resumes a settled
      // instance, so nothing could re-publish it after a crash right after that write.
      'publishing saga.completed',
      'published saga.completed',
      'write saga.completed',
    ]);
    await bus.close();
  });

  it('a crash before the final write loses no saga.completed: it went out first, and the resumed instance sends it again under the same id', async () => {
    let clock = 1_000;
    const store = memorySagaStore({ now: () => clock });
    const bus = memory();
    const completedIds: string[] = [];
    const arrivals = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
    const sub = await bus.subscribe('crash.saga', { group: 'audit', from: 'earliest' }, async (m) => {
      if (m.headers['x-saga-event'] !== 'saga.completed') return;
      completedIds.push(m.id);
      arrivals[completedIds.length - 1]?.resolve();
    });
    const crashed = dieOnceAtWrite(store, 'completed');
    const log: Log = { calls: [], keys: [] };
    const saga = fourSteps(log);
    const first = orchestrator({ sagas: [saga], store, transport: bus, topic: 'crash.saga' });
    await first.begin(saga, { n: 1 }, { id: 'late-1' });
    await crashed;
    await arrivals[0]!.promise; // published, though the write that settles it never landed
    expect((await store.get('late-1'))!.status).toBe('in_progress');

    clock += 600_000; // the first owner's lease has long run out
    const second = orchestrator({ sagas: [saga], store, transport: bus, topic: 'crash.saga' });
    const settled = second.settled('late-1');
    await second.start();
    expect((await settled).status).toBe('completed');
    expect(log.calls).toEqual(['do:reserve', 'do:charge', 'do:ship', 'do:notify']); // no step ran twice
    await arrivals[1]!.promise;
    expect(completedIds).toEqual(['late-1@completed', 'late-1@completed']); // the same transition, the same id
    await sub.close();
    await bus.close();
  });

  it('a crash before a compensation_failed instance settles loses no report: the resumed instance sends its event and dead-letter record again, same ids, without compensating again', async () => {
    let clock = 1_000;
    const store = memorySagaStore({ now: () => clock });
    const bus = memory();
    const failedEvents = new Inbox();
    const letters = new Inbox();
    await bus.subscribe('crash.saga', { group: 'audit', from: 'earliest' }, async (m) => {
      if (m.headers['x-saga-event'] === 'saga.compensation.failed') failedEvents.push(m);
    });
    await bus.subscribe('crash.saga.dlq', { group: 'ops', from: 'earliest' }, async (m) => letters.push(m));
    const crashed = dieOnceAtWrite(store, 'compensation_failed');
    let compensations = 0;
    const saga = defineSaga<string>('refund')
      .step({
        name: 'charge',
        action: async () => 'charged',
        compensationRetry: { attempts: 2, initialDelayMs: 1 },
        compensate: async () => {
          compensations++;
          throw new Error('refund service down');
        },
      })
      .step({
        name: 'ship',
        action: async () => {
          throw new PermanentError('no stock');
        },
      })
      .build();
    const first = orchestrator({ sagas: [saga], store, transport: bus, topic: 'crash.saga' });
    await first.begin(saga, 'in', { id: 'stuck-2' });
    await crashed;
    // Both went out before the settling write, which never landed.
    await failedEvents.untilCount(1, 5_000);
    await letters.untilCount(1, 5_000);
    const left = (await store.get('stuck-2'))!;
    expect(left.status).toBe('compensating');
    expect(left.compensationFailure).toMatchObject({ step: 'charge', attempts: 2, error: 'Error: refund service down' });

    clock += 600_000; // the first owner's lease has long run out
    const second = orchestrator({ sagas: [saga], store, transport: bus, topic: 'crash.saga' });
    const settled = second.settled('stuck-2');
    await second.start();
    const record = await settled;
    expect(record.status).toBe('compensation_failed');
    expect(record.compensationFailure).toBeUndefined();
    expect(compensations).toBe(2); // the two tries of the first run; the resumed instance did not compensate again
    expect(summary(record)).toEqual(['action:charge:completed', 'action:ship:failed', 'compensation:charge:failed']);
    await failedEvents.untilCount(2, 5_000);
    await letters.untilCount(2, 5_000);
    expect(failedEvents.messages.map((m) => m.id)).toEqual([failedEvents.messages[0]!.id, failedEvents.messages[0]!.id]);
    expect(letters.messages.map((m) => m.id)).toEqual([`${failedEvents.messages[0]!.id}:dlq`, `${failedEvents.messages[0]!.id}:dlq`]);
    expect(JSON.parse(Buffer.from(letters.messages[1]!.payload).toString())).toMatchObject({ id: 'stuck-2', status: 'compensation_failed' });
    expect(letters.messages[1]!.headers).toMatchObject({ 'x-saga-id': 'stuck-2', 'x-failed-step': 'charge', 'x-attempts': '2' });
    await bus.close();
  });

  it('the retry command hands a compensation_failed instance to whichever orchestrator scans next, which finishes the rollback without sending saga.compensation.failed again', async () => {
    let clock = 1_000;
    const store = memorySagaStore({ now: () => clock });
    const bus = memory();
    const events = new Inbox();
    await bus.subscribe('retry.saga', { group: 'audit', from: 'earliest' }, async (m) => events.push(m));
    let healthy = false;
    const saga = defineSaga<string>('refund-later')
      .step({
        name: 'charge',
        action: async () => 'charged',
        compensationRetry: { attempts: 1 },
        compensate: async () => {
          if (!healthy) throw new Error('refund service down');
        },
      })
      .step({ name: 'ship', action: async () => Promise.reject(new PermanentError('no stock')) })
      .build();
    const failed = await orchestrator({ sagas: [saga], store, transport: bus, topic: 'retry.saga' }).run(saga, 'in', { id: 'later-1' });
    expect(failed.status).toBe('compensation_failed');

    healthy = true;
    await retrySaga(store, 'later-1'); // as `switchyard saga retry later-1` does, on the store alone
    clock += 600_000;
    const other = orchestrator({ sagas: [saga], store, transport: bus, topic: 'retry.saga' });
    const settled = other.settled('later-1');
    await other.start();
    expect((await settled).status).toBe('rolled_back');
    await events.until(() => events.messages.some((m) => m.headers['x-saga-event'] === 'saga.rolled_back'), 5_000, () => 'saga.rolled_back');
    expect(events.messages.filter((m) => m.headers['x-saga-event'] === 'saga.compensation.failed')).toHaveLength(1);
    await bus.close();
  });

  it('a store write that fails while no recovery scan would resume the instance rejects its waiters, saying how to resume it', async () => {
    const store = memorySagaStore();
    const crashed = dieOnceAtWrite(store, 'in_progress');
    const log: Log = { calls: [], keys: [] };
    const saga = fourSteps(log);
    const o = orchestrator({ sagas: [saga], store }); // never started, recoveryIntervalMs 0
    const handle = await o.begin(saga, { n: 1 }, { id: 'blip-1' });
    // The drive ends with the failed write; its waiters are told before it does (they used to wait for ever).
    const outcome = await Promise.race([handle.settled.then(() => 'settled', (error: Error) => error), o.idle().then(() => 'still waiting')]);
    await crashed;
    expect(outcome).toBeInstanceOf(Error);
    expect((outcome as Error).message).toMatch(/^saga blip-1 stopped: the process died before this write reached the store; .*recover\(\)/);
    expect(((outcome as Error).cause as Error).message).toBe('the process died before this write reached the store');
    expect((await store.get('blip-1'))!.status).toBe('initiated');

    // As the message says: a scan resumes it, re-running the step whose outcome was not written.
    const settled = o.settled('blip-1');
    expect(await o.recover()).toBe(1);
    expect((await settled).status).toBe('completed');
    expect(log.calls).toEqual(['do:reserve', 'do:reserve', 'do:charge', 'do:ship', 'do:notify']);
  });

  it('a store write that fails while recovery scans is left to the next scan, and the waiter gets the settled record', async () => {
    const store = memorySagaStore();
    const crashed = dieOnceAtWrite(store, 'in_progress');
    const log: Log = { calls: [], keys: [] };
    const saga = fourSteps(log);
    const o = orchestrator({ sagas: [saga], store, recoveryIntervalMs: 10 });
    await o.start();
    const record = await o.run(saga, { n: 1 }, { id: 'blip-2' });
    await crashed;
    expect(record.status).toBe('completed');
    expect(log.calls).toEqual(['do:reserve', 'do:reserve', 'do:charge', 'do:ship', 'do:notify']);
  });

  it('rejects a second saga with the same id and an unknown saga name', async () => {
    const saga = fourSteps({ calls: [], keys: [] });
    const o = orchestrator({ sagas: [saga] });
    await o.run(saga, { n: 1 }, { id: 'dup' });
    await expect(o.begin(saga, { n: 2 }, { id: 'dup' })).rejects.toMatchObject({ code: 'CONCURRENCY' });
    await expect(o.begin('nope', {})).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/unknown saga "nope"/) });
  });

  it('settled() of an id the store does not have rejects with a ConfigError instead of waiting for ever; one being begun is waited for', async () => {
    const saga = fourSteps({ calls: [], keys: [] });
    const o = orchestrator({ sagas: [saga] });
    await expect(o.settled('no-such-saga')).rejects.toMatchObject({ code: 'CONFIG', message: expect.stringMatching(/has no instance with this id/) });
    const begun = o.begin(saga, { n: 1 }, { id: 'being-begun' });
    const settled = o.settled('being-begun');
    await begun;
    expect((await settled).status).toBe('completed');
    expect((await o.settled('being-begun')).status).toBe('completed');
  });

  it('refuses waits longer than a timer can keep (Infinity included), which would fire at once', () => {
    expect(() => defineSaga('long').step({ name: 'a', action: async () => 1, timeoutMs: Infinity }).build()).toThrow(/timeoutMs must be a positive number of ms up to 2147483647/);
    expect(() => defineSaga('long').step({ name: 'a', action: async () => 1, compensationTimeoutMs: 2 ** 31, retry: { maxDelayMs: Infinity } }).build()).toThrow(/2 problems/);
    const saga = fourSteps({ calls: [], keys: [] });
    expect(() => new SagaOrchestrator({ store: memorySagaStore(), sagas: [saga], leaseMs: Infinity, recoveryIntervalMs: 2 ** 40 })).toThrow(/2 problems/);
  });

  it('reports every definition problem at once', () => {
    expect(() =>
      defineSaga('bad name!')
        .step({ name: 'a', action: async () => 1, timeoutMs: -1 })
        .step({ name: 'a', action: 'no' as never, retry: { attempts: 0 } })
        .build(),
    ).toThrow(/5 problems/);
  });

  it('resumes an instance left by a dead orchestrator from its persisted state, re-running the current step with the same key', async () => {
    let clock = 1_000;
    const store = memorySagaStore({ now: () => clock });
    const log: Log = { calls: [], keys: [] };
    const saga = fourSteps(log);
    // As a crashed process leaves it: "charge" done, "ship" running, the owner's lease ended.
    await store.create(
      {
        id: 'crashed',
        saga: 'four',
        status: 'in_progress',
        input: { n: 1 },
        step: 2,
        history: [
          { step: 'reserve', index: 0, kind: 'action', outcome: 'completed', attempts: 1, at: 1, output: { after: 'reserve' } },
          { step: 'charge', index: 1, kind: 'action', outcome: 'completed', attempts: 1, at: 2, output: { after: 'charge' } },
        ],
      },
      { owner: 'dead', ms: 30_000 },
    );
    clock += 60_000; // the dead owner's lease has run out
    const o = orchestrator({ sagas: [saga], store });
    const settled = o.settled('crashed');
    await o.start();
    const record = await settled;
    expect(record.status).toBe('completed');
    expect(log.calls).toEqual(['do:ship', 'do:notify']);
    expect(log.keys).toEqual(['crashed:ship', 'crashed:notify']);
    expect(record.history[2]!.output).toEqual({ after: 'ship', from: { after: 'charge' } });
  });

  it('close() lets the running step finish, persists it and releases the lease for another orchestrator', async () => {
    const store = memorySagaStore();
    const gate = Promise.withResolvers<void>();
    const started = Promise.withResolvers<void>();
    const saga = defineSaga<number>('slow')
      .step({
        name: 'one',
        action: async () => {
          started.resolve();
          await gate.promise;
          return 1;
        },
      })
      .step({ name: 'two', action: async (n) => n + 1 })
      .build();
    const first = orchestrator({ sagas: [saga], store, owner: 'first' });
    await first.begin(saga, 0, { id: 'handover' });
    await started.promise;
    const closing = first.close();
    gate.resolve();
    await closing;
    const paused = await store.get('handover');
    expect(paused).toMatchObject({ status: 'in_progress', step: 1 });
    expect(paused!.owner).toBeUndefined();
    const second = orchestrator({ sagas: [saga], store, owner: 'second' });
    const settled = second.settled('handover');
    await second.start();
    expect((await settled).history.map((h) => h.output)).toEqual([1, 2]);
  });

  // Regression: close() stopped renewing leases before letting the running steps finish; a step
  // outlasting the lease was taken over and run again by another orchestrator at the same time.
  it('close() keeps renewing the lease of a step it lets finish: another orchestrator does not take it over meanwhile', async () => {
    let clock = 1_000;
    const memoryStore = memorySagaStore({ now: () => clock });
    const renewedAfterClose = Promise.withResolvers<void>();
    let closing = false;
    const store: SagaStore = {
      ...memoryStore,
      renew: async (ids, lease) => {
        const held = await memoryStore.renew(ids, lease);
        if (closing && held.includes('draining')) renewedAfterClose.resolve();
        return held;
      },
    };
    const gate = Promise.withResolvers<void>();
    const started = Promise.withResolvers<void>();
    const runs: string[] = [];
    const saga = (owner: string) =>
      defineSaga<number>('slow')
        .step({
          name: 'one',
          action: async () => {
            runs.push(owner);
            started.resolve();
            if (owner === 'first') await gate.promise;
            return 1;
          },
        })
        .step({ name: 'two', action: async (n) => n + 1 })
        .build();
    const first = orchestrator({ sagas: [saga('first')], store, owner: 'first', leaseMs: 300 });
    await first.begin('slow', 0, { id: 'draining' });
    await started.promise;
    closing = true;
    const closed = first.close();
    clock += 60_000; // far past the lease, unless it is renewed while the step drains
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, 3_000).unref());
    await Promise.race([renewedAfterClose.promise, timeout]);
    const second = orchestrator({ sagas: [saga('second')], store: memoryStore, owner: 'second' });
    expect(await second.recover()).toBe(0);
    gate.resolve();
    await closed;
    const paused = await memoryStore.get('draining');
    expect(paused).toMatchObject({ status: 'in_progress', step: 1 });
    expect(paused!.owner).toBeUndefined(); // released by the orchestrator that ran the step, not taken over
    const settled = second.settled('draining');
    await second.recover();
    expect((await settled).history.map((h) => h.output)).toEqual([1, 2]);
    expect(runs).toEqual(['first']);
  });
});
