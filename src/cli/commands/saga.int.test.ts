import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import pg from 'pg';
import { afterAll, expect, it, vi } from 'vitest';
import { postgresSagaStore } from '../../saga/postgres-saga-store.ts';
import { registerSaga } from './saga.ts';

const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `saga_cli_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 2 });

afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS "${table}"`);
  await pool.end();
});

async function cli(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerSaga(program);
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  try {
    await program.parseAsync(['node', 'switchyard', 'saga', ...args, '--pg', url, '--table', table]);
  } finally {
    spy.mockRestore();
  }
  return lines.join('\n');
}

it('switchyard saga list|show|retry read a PostgreSQL store and send the retry command', async () => {
  const store = postgresSagaStore({ pool, table });
  await store.create({ id: 'cli-ok', saga: 'order-fulfillment', status: 'completed', input: { orderId: 'o-1' }, step: 4, history: [] });
  await store.create({
    id: 'cli-stuck',
    saga: 'order-fulfillment',
    status: 'compensation_failed',
    input: { orderId: 'o-2' },
    step: 1,
    error: 'step "create-shipment" failed: PermanentError: no courier',
    history: [
      { step: 'reserve-inventory', index: 0, kind: 'action', outcome: 'completed', attempts: 1, at: 1, output: { reservationId: 'inv-1' } },
      { step: 'process-payment', index: 1, kind: 'compensation', outcome: 'failed', attempts: 5, at: 2, error: 'Error: refund service down' },
    ],
  });
  const list = await cli('list');
  expect(list).toMatch(/^cli-stuck {2}order-fulfillment {2}compensation_failed {2}step=1/m);
  expect(list).toMatch(/^cli-ok {2}order-fulfillment {2}completed/m);
  expect(await cli('list', '--status', 'completed')).not.toMatch(/cli-stuck/);
  const show = await cli('show', 'cli-stuck');
  expect(show).toMatch(/compensation 1:process-payment {2}failed {2}\(5 tries\) {2}Error: refund service down/);
  expect(show).toMatch(/action 0:reserve-inventory {2}completed {2}\(1 try\) {2}→ \{"reservationId":"inv-1"\}/);
  expect(await cli('retry', 'cli-stuck')).toMatch(/compensating again from step 1/);
  expect((await store.get('cli-stuck'))?.status).toBe('compensating');
  await expect(cli('retry', 'cli-ok')).rejects.toThrow(/cli-ok is completed; only compensation_failed sagas can be retried/);
  await expect(cli('show', 'nope')).rejects.toThrow(/no saga with id "nope"/);
  expect(JSON.parse(await cli('list', '--json', '--saga', 'order-fulfillment'))).toHaveLength(2);
});
