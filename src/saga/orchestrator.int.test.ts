import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PermanentError } from '../core/errors.ts';
import { defineSaga, type SagaDefinition } from './definition.ts';
import { SagaOrchestrator } from './orchestrator.ts';
import { postgresSagaStore } from './postgres-saga-store.ts';

const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `saga_orch_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 4 });
const quiet = { warn: () => {}, error: () => {} };
const STEPS = ['reserve', 'charge', 'ship', 'notify'] as const;

afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS "${table}"`);
  await pool.end();
});

function saga(calls: string[], failAt?: string, hangAt?: string): SagaDefinition<number> {
  let builder = defineSaga<number>(`pg-four-${failAt ?? hangAt ?? 'ok'}`);
  for (const name of STEPS) {
    builder = builder.step({
      name,
      timeoutMs: name === hangAt ? 100 : 10_000,
      action: async (n: number) => {
        calls.push(`do:${name}`);
        if (name === failAt) throw new PermanentError(`${name} refused`);
        if (name === hangAt) return new Promise<number>(() => {});
        return n + 1;
      },
      ...(name === 'notify' ? {} : { compensate: async () => void calls.push(`undo:${name}`) }),
    }) as never;
  }
  return builder.build();
}

/** Reads the instance back through a second pool, as another process would. */
async function persisted(id: string): Promise<string[]> {
  const other = new pg.Pool({ connectionString: url, max: 1 });
  try {
    const record = await postgresSagaStore({ pool: other, table }).get(id);
    return [record!.status, ...record!.history.map((h) => `${h.kind}:${h.step}:${h.outcome}`)];
  } finally {
    await other.end();
  }
}

describe('SagaOrchestrator on the PostgreSQL saga store', () => {
  it('the success path is persisted step by step', async () => {
    const calls: string[] = [];
    const definition = saga(calls);
    const o = new SagaOrchestrator({ store: postgresSagaStore({ pool, table }), sagas: [definition], logger: quiet, recoveryIntervalMs: 0 });
    await o.run(definition, 0, { id: 'pg-ok' });
    await o.close();
    expect(await persisted('pg-ok')).toEqual(['completed', ...STEPS.map((s) => `action:${s}:completed`)]);
  });

  for (const [i, failing] of STEPS.entries()) {
    it(`a failure at step ${i + 1} ("${failing}") is compensated in reverse order and persisted`, async () => {
      const calls: string[] = [];
      const definition = saga(calls, failing);
      const o = new SagaOrchestrator({ store: postgresSagaStore({ pool, table }), sagas: [definition], logger: quiet, recoveryIntervalMs: 0 });
      await o.run(definition, 0, { id: `pg-fail-${failing}` });
      await o.close();
      const undone = STEPS.slice(0, i).filter((s) => s !== 'notify').toReversed();
      expect(calls).toEqual([...STEPS.slice(0, i + 1).map((s) => `do:${s}`), ...undone.map((s) => `undo:${s}`)]);
      expect(await persisted(`pg-fail-${failing}`)).toEqual([
        'rolled_back',
        ...STEPS.slice(0, i).map((s) => `action:${s}:completed`),
        `action:${failing}:failed`,
        ...undone.map((s) => `compensation:${s}:completed`),
      ]);
    });
  }

  it('an output or error text PostgreSQL cannot store (U+0000, a lone surrogate) rolls the saga back with the action run once, instead of re-running it forever', async () => {
    const runs = new Map<string, number>();
    const undone: string[] = [];
    const count = (name: string): void => void runs.set(name, (runs.get(name) ?? 0) + 1);
    const definition = defineSaga<number>('pg-unstorable-text')
      .step({ name: 'reserve', action: async () => (count('reserve'), { note: 'ok' }), compensate: async () => void undone.push('reserve') })
      .step({ name: 'nul', action: async () => (count('nul'), { note: 'a\u0000b' }), compensate: async (out) => void undone.push(`nul(${String(out)})`) })
      .build();
    const failsWithText = defineSaga<number>('pg-unstorable-error')
      .step({ name: 'reserve', action: async () => (count('reserve2'), 1), compensate: async () => void undone.push('reserve2') })
      .step({ name: 'binary-error', retry: { attempts: 1 }, action: async () => (count('binary-error'), Promise.reject(new Error('got \u0000\ud800'))) })
      .build();
    // The old code logged the store's refusal and left the saga to recovery, which ran the step again, forever.
    const storeFailed = Promise.withResolvers<never>();
    const logger = { warn: () => {}, error: (message: string) => storeFailed.reject(new Error(message)) };
    const o = new SagaOrchestrator({ store: postgresSagaStore({ pool, table }), sagas: [definition, failsWithText], logger, recoveryIntervalMs: 20 });
    await o.start();
    try {
      const [a, b] = await Promise.race([Promise.all([o.run(definition, 0, { id: 'pg-nul-output' }), o.run(failsWithText, 0, { id: 'pg-nul-error' })]), storeFailed.promise]);
      expect(a.status).toBe('rolled_back');
      expect(a.error).toMatch(/step "nul" returned an output that cannot be stored as JSON \(.*U\+0000/);
      expect(b.status).toBe('rolled_back');
      expect(b.error).toContain('Error: got \\u0000\uFFFD');
      expect(Object.fromEntries(runs)).toEqual({ reserve: 1, nul: 1, reserve2: 1, 'binary-error': 1 });
      expect(undone.toSorted()).toEqual(['nul(undefined)', 'reserve', 'reserve2']);
      expect(await persisted('pg-nul-output')).toEqual(['rolled_back', 'action:reserve:completed', 'action:nul:completed', 'compensation:nul:completed', 'compensation:reserve:completed']);
    } finally {
      await o.close();
    }
  });

  it('a step that never answers times out and the completed steps are compensated', async () => {
    const calls: string[] = [];
    const definition = saga(calls, undefined, 'ship');
    const o = new SagaOrchestrator({ store: postgresSagaStore({ pool, table }), sagas: [definition], logger: quiet, recoveryIntervalMs: 0 });
    await o.run(definition, 0, { id: 'pg-timeout' });
    await o.close();
    expect(calls).toEqual(['do:reserve', 'do:charge', 'do:ship', 'undo:charge', 'undo:reserve']);
    expect(await persisted('pg-timeout')).toEqual([
      'rolled_back',
      'action:reserve:completed',
      'action:charge:completed',
      'action:ship:timed_out',
      'compensation:charge:completed',
      'compensation:reserve:completed',
    ]);
  });
});
