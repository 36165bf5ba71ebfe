import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineSaga, type SagaDefinition } from '../../saga/definition.ts';
import { embeddedSagaStore } from '../../saga/embedded-saga-store.ts';
import { memorySagaStore } from '../../saga/memory-saga-store.ts';
import { SagaOrchestrator } from '../../saga/orchestrator.ts';
import { postgresSagaStore } from '../../saga/postgres-saga-store.ts';
import type { SagaStore } from '../../saga/saga-store.ts';
import { timed } from '../stats.ts';
import type { BenchCase, Sample, Scenario } from '../types.ts';

const quiet = { warn: () => {}, error: () => {} };

/** Four steps that do no work of their own: what is measured is the orchestration and persistence. */
const fourSteps: SagaDefinition<number> = defineSaga<number>('bench-four')
  .step({ name: 'reserve', action: async (n) => n + 1, compensate: async () => {} })
  .step({ name: 'charge', action: async (n) => n + 1, compensate: async () => {} })
  .step({ name: 'ship', action: async (n) => n + 1, compensate: async () => {} })
  .step({ name: 'notify', action: async (n) => n + 1 })
  .build();

/** Runs `count` sagas, `parallel` at a time; returns sagas (or steps, with `perStep`) per second. */
async function sagas(store: SagaStore, count: number, parallel: number, perStep = false): Promise<Sample> {
  const orchestrator = new SagaOrchestrator({ store, sagas: [fourSteps], logger: quiet, recoveryIntervalMs: 0 });
  const run = randomBytes(4).toString('hex');
  const sample = await timed(async () => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        const record = await orchestrator.run(fourSteps, i, { id: `bench-${run}-${i}` });
        if (record.status !== 'completed') throw new Error(`saga ${record.id} ended ${record.status}`);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    return perStep ? count * fourSteps.steps.length : count;
  });
  await orchestrator.close();
  return sample;
}

/** The same four calls without an orchestrator: the floor the orchestration is measured against. */
async function direct(count: number, perStep = false): Promise<Sample> {
  return timed(async () => {
    for (let i = 0; i < count; i++) {
      let value = i;
      for (const step of fourSteps.steps) value = (await step.action(value, undefined as never)) as number;
    }
    return perStep ? count * fourSteps.steps.length : count;
  });
}

/** An embedded saga store in a temporary directory, removed by `close`. */
function tempEmbeddedStore(): { store: SagaStore; close(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-sagas-'));
  const store = embeddedSagaStore({ dir }); // fsync 'batch': every write durable before it resolves
  return {
    store,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Orchestrated sagas: completions per second with 4 steps on the memory, embedded and PostgreSQL
 * stores, and the persistence cost per step (sequential sagas, embedded and PostgreSQL against
 * memory).
 */
export const sagaScenario: Scenario = {
  name: 'saga',
  title: 'Sagas: 4-step orchestrated sagas, memory, embedded and PostgreSQL saga stores',
  async cases(ctx) {
    const memoryCount = ctx.quick ? 2_000 : 10_000;
    const cases: BenchCase[] = [
      {
        name: 'sagas completed, 4 steps, memory store, 64 in parallel',
        unit: 'sagas/s',
        ours: { name: 'orchestrator + memory store', run: () => sagas(memorySagaStore(), memoryCount, 64) },
      },
      {
        name: 'steps, one saga at a time: orchestrator + memory store vs the bare calls',
        unit: 'steps/s',
        ours: { name: 'orchestrator + memory store', run: () => sagas(memorySagaStore(), memoryCount, 1, true) },
        baseline: { name: 'the 4 calls, no orchestrator', run: () => direct(memoryCount, true) },
      },
    ];
    const embeddedCount = ctx.quick ? 1_000 : 5_000;
    const embeddedSequential = ctx.quick ? 100 : 300;
    const parallel = tempEmbeddedStore();
    const oneAtATime = tempEmbeddedStore();
    cases.push(
      {
        name: 'sagas completed, 4 steps, embedded store (fsync batch), 64 in parallel',
        unit: 'sagas/s',
        ours: { name: 'orchestrator + embedded store', run: () => sagas(parallel.store, embeddedCount, 64) },
        close: parallel.close,
      },
      {
        name: 'persistence per step: one saga at a time, embedded store (fsync batch) vs memory store',
        unit: 'steps/s',
        ours: { name: 'embedded store', run: () => sagas(oneAtATime.store, embeddedSequential, 1, true) },
        baseline: { name: 'memory store', run: () => sagas(memorySagaStore(), embeddedSequential * 10, 1, true) },
        close: oneAtATime.close,
      },
    );
    const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
    let pg: typeof import('pg').default;
    try {
      pg = (await import('pg')).default;
    } catch {
      ctx.skip('PostgreSQL saga store: the "pg" package is not installed (npm install pg)');
      return cases;
    }
    const pool = new pg.Pool({ connectionString: url, max: 16 });
    try {
      await pool.query('SELECT 1');
    } catch (error) {
      await pool.end();
      ctx.skip(`PostgreSQL saga store: PostgreSQL is not reachable at ${url} (${(error as Error).message}); run: npm run services`);
      return cases;
    }
    const table = `bench_sagas_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
    const store = postgresSagaStore({ pool, table });
    await store.migrate();
    const pgCount = ctx.quick ? 300 : 1_000;
    const sequential = ctx.quick ? 100 : 300;
    let open = 2;
    const close = async (): Promise<void> => {
      if (--open > 0) return;
      await pool.query(`DROP TABLE IF EXISTS "${table}"`);
      await pool.end();
    };
    cases.push(
      {
        name: 'sagas completed, 4 steps, PostgreSQL store, 16 in parallel',
        unit: 'sagas/s',
        ours: { name: 'orchestrator + PostgreSQL store', run: () => sagas(store, pgCount, 16) },
        close,
      },
      {
        name: 'persistence per step: one saga at a time, PostgreSQL store vs memory store',
        unit: 'steps/s',
        ours: { name: 'PostgreSQL store', run: () => sagas(store, sequential, 1, true) },
        baseline: { name: 'memory store', run: () => sagas(memorySagaStore(), sequential * 10, 1, true) },
        close,
      },
    );
    return cases;
  },
};
