import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { Message } from '../../core/message.ts';
import type { Transport } from '../../core/transport.ts';
import type { Middleware } from '../../router/types.ts';
import { Inbox } from '../../testing/inbox.ts';
import { memory } from '../../transports/memory/index.ts';
import { createTables, effectCounts, scenarioMessages, scenarioRouter, type ScenarioConfig } from './exactly-once.fixture.ts';

const PG_URL = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const appName = `switchyard-eo-${run}`;
const pool = new pg.Pool({ connectionString: PG_URL, max: 24, application_name: appName });
// Connections we kill on purpose report errors on idle clients; the pool replaces them.
pool.on('error', () => {});
const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
const tables: string[] = [];

afterAll(async () => {
  for (const t of tables) await admin.query(`DROP TABLE IF EXISTS ${t}`);
  await pool.end();
  await admin.end();
});

/**
 * 10,000 messages, 10 % published twice, the handler failing after its side effect on 10 % of
 * attempts, and every database connection of the consumer killed once mid-run. `transport` is a
 * parameter: the SIGKILL variant with a durable transport lives in exactly-once-kill.int.test.ts.
 */
async function scenario(mode: ScenarioConfig['mode'], transport: Transport): Promise<{ rows: number; distinct: number; deadLettered: number }> {
  const config: ScenarioConfig = { pool, effects: `eo_effects_${mode}_${run}`, keys: `eo_keys_${mode}_${run}`, mode, failRate: 0.1 };
  tables.push(config.effects, config.keys);
  await createTables(pool, config);
  const topic = `exactly-once.${mode}.${run}`;
  const messages = scenarioMessages();
  const acked = new Inbox();
  const observe: Middleware = async function observe(msg, _ctx, next) {
    await next();
    acked.push(msg);
  };
  const dlq = new Inbox();
  await transport.subscribe(`${topic}.dlq`, { group: 'watch' }, async (m: Message) => dlq.push(m));
  const router = scenarioRouter(transport, topic, { ...config }, observe);
  await router.start();
  for (let i = 0; i < messages.length; i += 1_000) await transport.publish(topic, messages.slice(i, i + 1_000));
  // Mid-run, kill every database connection the consumer has (transactions in flight abort).
  await acked.untilCount(3_000, 60_000);
  const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, [appName]);
  expect(killed.rowCount).toBeGreaterThan(0);
  await acked.untilCount(messages.length, 120_000);
  await router.stop();
  const counts = await effectCounts(pool, config.effects);
  return { ...counts, deadLettered: dlq.messages.length };
}

describe('exactly-once effect (PostgreSQL store, memory transport)', () => {
  it('transactional store: 10,000 messages, 10 % duplicated, 10 % failing attempts, connections killed mid-run → exactly 10,000 effects, empty DLQ', async () => {
    const result = await scenario('transactional', memory());
    expect(result).toEqual({ rows: 10_000, distinct: 10_000, deadLettered: 0 });
  });

  it('lease (non-transactional) store: the same run lets duplicates through, and says how many', async () => {
    const result = await scenario('lease', memory());
    console.info(`non-transactional store: ${result.rows - result.distinct} duplicate effects among ${result.rows} rows`);
    expect(result.distinct).toBe(10_000);
    expect(result.deadLettered).toBe(0);
    // Every attempt that failed after its write left a duplicate: about 10 % of the messages.
    expect(result.rows - result.distinct).toBeGreaterThan(0);
  });
});
