import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../../router/dlq.ts';
import { Inbox } from '../../testing/inbox.ts';
import { createTables, effectCounts, scenarioMessages, type ScenarioConfig } from './exactly-once.fixture.ts';

const PG_URL = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
const tables: string[] = [];
const dirs: string[] = [];
const childFile = fileURLToPath(new URL('./exactly-once.child.ts', import.meta.url));

afterAll(async () => {
  for (const t of tables) await pool.query(`DROP TABLE IF EXISTS ${t}`);
  await pool.end();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let embeddedMissing: string | undefined;
try {
  await import('../../transports/embedded/index.ts');
} catch (error) {
  embeddedMissing = (error as Error).message;
}

function consumer(env: Record<string, string>) {
  const proc = spawn(process.execPath, [childFile], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const wait = new Inbox();
  let acked = 0;
  proc.stdout.on('data', (chunk: Buffer) => {
    for (const m of chunk.toString().matchAll(/acked (\d+)/g)) acked = Number(m[1]);
    wait.notify();
  });
  const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, wait, exit, acked: () => acked };
}

/** Waits for a database condition written by another process (no event crosses the process boundary). */
async function untilDb(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function killedRun(mode: ScenarioConfig['mode']): Promise<{ rows: number; distinct: number; dlq: number }> {
  const { embedded } = await import('../../transports/embedded/index.ts');
  const dir = mkdtempSync(join(tmpdir(), `switchyard-eo-${mode}-`));
  dirs.push(dir);
  const config = { effects: `eok_effects_${mode}_${run}`, keys: `eok_keys_${mode}_${run}` };
  tables.push(config.effects, config.keys);
  await createTables(pool, config);
  const topic = `exactly-once.kill.${mode}.${run}`;
  const bus = embedded({ dir });
  const messages = scenarioMessages();
  for (let i = 0; i < messages.length; i += 1_000) await bus.publish(topic, messages.slice(i, i + 1_000));
  await bus.close();

  const env = { DIR: dir, TOPIC: topic, PG_URL, EFFECTS: config.effects, KEYS: config.keys, MODE: mode };
  const first = consumer(env);
  await first.wait.until(() => first.acked() >= 3_000, 120_000, () => `3,000 acks (got ${first.acked()})`);
  first.proc.kill('SIGKILL');
  expect((await first.exit).signal).toBe('SIGKILL');

  const second = consumer(env);
  await untilDb(async () => (await effectCounts(pool, config.effects)).distinct >= 10_000, 180_000, '10,000 distinct effects');
  second.proc.kill('SIGTERM');
  expect(await second.exit).toEqual({ code: 0, signal: null });

  const check = embedded({ dir });
  const dead = await listDeadLetters(check, `${topic}.dlq`, { idleMs: 300 });
  await check.close();
  return { ...(await effectCounts(pool, config.effects)), dlq: dead.length };
}

describe.skipIf(embeddedMissing !== undefined)(`exactly-once effect across a SIGKILL (embedded transport, PostgreSQL store)${embeddedMissing ? ` — skipped: ${embeddedMissing}` : ''}`, () => {
  it('transactional store: consumer killed mid-run and restarted → exactly 10,000 effects, empty DLQ', async () => {
    expect(await killedRun('transactional')).toEqual({ rows: 10_000, distinct: 10_000, dlq: 0 });
  }, 300_000);

  it('lease (non-transactional) store: the same run, reporting the duplicates that slipped through', async () => {
    const result = await killedRun('lease');
    console.info(`non-transactional store across a SIGKILL: ${result.rows - result.distinct} duplicate effects among ${result.rows} rows`);
    expect(result.distinct).toBe(10_000);
    expect(result.dlq).toBe(0);
  }, 300_000);
});
