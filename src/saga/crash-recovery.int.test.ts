import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { postgresSagaStore } from './postgres-saga-store.ts';

const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const sagaTable = `saga_crash_${run}`;
const effectsTable = `saga_effects_${run}`;
const pool = new pg.Pool({ connectionString: url, max: 4 });
const worker = fileURLToPath(new URL('./fixtures/crash-orchestrator.ts', import.meta.url));
const COUNT = 200;

afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS "${sagaTable}"`);
  await pool.query(`DROP TABLE IF EXISTS "${effectsTable}"`);
  await pool.end();
});

/** Runs the orchestrator process; kills it with SIGKILL after `killAfter` saga events, if given. */
function runWorker(killAfter?: number): Promise<{ events: number; killed: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [worker], {
      env: { ...process.env, SWITCHYARD_PG_URL: url, SAGA_TABLE: sagaTable, EFFECTS_TABLE: effectsTable, SAGA_COUNT: String(COUNT) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let events = 0;
    let killed = false;
    let output = '';
    let errors = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      events += chunk.split('\n').filter((l) => l.startsWith('saga.')).length;
      if (killAfter !== undefined && !killed && events >= killAfter) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL' || code === 0) resolve({ events, killed, output });
      else reject(new Error(`orchestrator exited with ${code}: ${errors}\n${output.slice(-2_000)}`));
    });
  });
}

it('200 sagas survive 5 SIGKILLs of the orchestrator at random points: each ends completed or rolled_back, no effect applied twice, none stuck', async () => {
  await pool.query(`CREATE TABLE "${effectsTable}" (key text PRIMARY KEY, saga_id text NOT NULL, step text NOT NULL, kind text NOT NULL, runs int NOT NULL DEFAULT 1)`);
  let kills = 0;
  for (let round = 0; round < 5; round++) {
    const result = await runWorker(20 + Math.floor(Math.random() * 160));
    if (result.killed) kills++;
  }
  const last = await runWorker();
  expect(last.output).toMatch(/^done$/m);
  expect(kills).toBe(5);

  const store = postgresSagaStore({ pool, table: sagaTable });
  const records = await store.list({ limit: 1_000 });
  expect(records).toHaveLength(COUNT);
  const { rows } = await pool.query<{ saga_id: string; step: string; kind: string; runs: number }>(`SELECT saga_id, step, kind, runs FROM "${effectsTable}"`);
  const effects = new Map<string, string[]>();
  for (const r of rows) effects.set(r.saga_id, [...(effects.get(r.saga_id) ?? []), `${r.kind}:${r.step}`]);
  for (const record of records) {
    const i = Number(record.id.slice('saga-'.length));
    const got = (effects.get(record.id) ?? []).toSorted();
    const history = record.history.map((h) => `${h.kind}:${h.step}:${h.outcome}`);
    if (i % 4 === 3) {
      expect(record.status, record.id).toBe('rolled_back');
      expect(got, record.id).toEqual(['action:charge', 'action:reserve', 'compensation:charge', 'compensation:reserve']);
      expect(history, record.id).toEqual([
        'action:reserve:completed',
        'action:charge:completed',
        'action:ship:failed',
        'compensation:charge:completed',
        'compensation:reserve:completed',
      ]);
    } else {
      expect(record.status, record.id).toBe('completed');
      expect(got, record.id).toEqual(['action:charge', 'action:notify', 'action:reserve', 'action:ship']);
      expect(history, record.id).toEqual(['action:reserve:completed', 'action:charge:completed', 'action:ship:completed', 'action:notify:completed']);
    }
  }
  // Steps re-run after a kill hit the same key (runs > 1) instead of applying a second effect.
  const reruns = rows.filter((r) => r.runs > 1).length;
  console.log(`crash recovery: ${kills} kills, ${rows.length} effects, ${reruns} re-run with the same idempotency key`);
}, 300_000);
