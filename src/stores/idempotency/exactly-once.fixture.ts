// The exactly-once-effect scenario, shared by the in-process test and the child consumer
// process (exactly-once.child.ts) that a test kills with SIGKILL. Not exported from the package.
import type pg from 'pg';
import { json } from '../../codecs/json.ts';
import type { OutgoingMessage } from '../../core/message.ts';
import type { Transport } from '../../core/transport.ts';
import { deadLetter } from '../../middleware/dead-letter.ts';
import { idempotency } from '../../middleware/idempotency.ts';
import { retry } from '../../middleware/retry.ts';
import { Router } from '../../router/router.ts';
import type { Logger, Middleware } from '../../router/types.ts';
import { pgTransaction, postgresIdempotencyStore } from './postgres.ts';

export const codec = json<{ n: number }>();
export const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface ScenarioConfig {
  pool: pg.Pool;
  /** Side-effect table: one row per handler effect (no unique constraint: duplicates show). */
  effects: string;
  /** Idempotency store table. */
  keys: string;
  /** `transactional`: effect written in the store's transaction; `lease`: written on its own. */
  mode: 'transactional' | 'lease';
  /** Share of attempts that fail after writing the effect. */
  failRate: number;
}

export async function createTables(pool: pg.Pool, config: Pick<ScenarioConfig, 'effects'>): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS ${config.effects} (msg_id text NOT NULL, n int NOT NULL)`);
}

/** `count` messages with ids m-0…, a `dupRate` share of them published twice, interleaved. */
export function scenarioMessages(count = 10_000, dupRate = 0.1): OutgoingMessage[] {
  const out: OutgoingMessage[] = [];
  const dups: OutgoingMessage[] = [];
  const every = Math.round(1 / dupRate);
  for (let n = 0; n < count; n++) {
    const m = codec.encode({ n }, { id: `m-${n}`, key: `k${n % 64}` });
    out.push(m);
    if (n % every === 0) dups.push(m);
    // Re-publish duplicates a little later, so some are in flight together with the original.
    if (n % 7 === 0 && dups.length > 0) out.push(dups.shift()!);
  }
  out.push(...dups);
  return out;
}

/** The consumer: retry + dead-letter + idempotency, writing one effect row per message. */
export function scenarioRouter(transport: Transport, topic: string, config: ScenarioConfig, observe?: Middleware): Router {
  const store = postgresIdempotencyStore({ pool: config.pool, table: config.keys, transactional: config.mode === 'transactional' });
  const router = new Router({ logger: quiet, drainTimeoutMs: 10_000 });
  if (observe) router.use(observe);
  router.use(retry({ attempts: 10, initialDelayMs: 1, maxDelayMs: 20 }), deadLetter({ maxAttempts: 10 }), idempotency({ store, leaseMs: 30_000 }));
  router.handle('effects', { from: transport, topic, group: 'exactly-once', codec, concurrency: 16, start: 'earliest' }, async (msg, ctx) => {
    const sql = `INSERT INTO ${config.effects} (msg_id, n) VALUES ($1, $2)`;
    if (config.mode === 'transactional') await pgTransaction(ctx).query(sql, [msg.id, msg.payload.n]);
    else await config.pool.query(sql, [msg.id, msg.payload.n]);
    if (Math.random() < config.failRate) throw new Error('random failure after the side effect');
  });
  return router;
}

export async function effectCounts(pool: pg.Pool, effects: string): Promise<{ rows: number; distinct: number }> {
  const r = await pool.query<{ rows: string; distinct: string }>(`SELECT count(*) AS rows, count(DISTINCT msg_id) AS distinct FROM ${effects}`);
  return { rows: Number(r.rows[0]!.rows), distinct: Number(r.rows[0]!.distinct) };
}
