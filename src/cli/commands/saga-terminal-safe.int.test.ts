import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postgresSagaStore } from '../../saga/postgres-saga-store.ts';
import { spawnCli } from './cli.test-support.ts';

// A saga's id, name, error and step names come from the application, and its errors often quote
// the message that caused them. `saga list` and `saga show` printed them as they were: an escape
// sequence recoloured or cleared the operator's screen, a CR or newline forged output lines.
const url = process.env.SWITCHYARD_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `saga_cli_tty_${randomBytes(4).toString('hex')}`;
const pool = new pg.Pool({ connectionString: url, max: 2 });
const hostile = 'boom\u001b[2J\u001b]0;owned\u0007\rfake\n  history (0): \u009b31m\u202eevil';
const controls = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/; // eslint-disable-line no-control-regex

beforeAll(async () => {
  const store = postgresSagaStore({ pool, table });
  await store.create({
    id: 's-1\u001b[31m',
    saga: 'order\u001b[1m',
    status: 'compensation_failed',
    input: { note: hostile },
    step: 1,
    error: `Error: ${hostile}`,
    history: [{ step: 'pay\u001b[8m', index: 0, kind: 'action', outcome: 'failed', attempts: 1, at: 1, error: `Error: ${hostile}` }],
  });
  await store.create({ id: 'done\u001b[2J', saga: 'order', status: 'completed', input: {}, step: 1, history: [] });
});
afterAll(async () => {
  await pool.query(`DROP TABLE IF EXISTS "${table}"`);
  await pool.end();
});

const saga = (...args: string[]) => spawnCli(['saga', ...args, '--pg', url, '--table', table]).done;

it('saga list prints ids and names with their control characters escaped', async () => {
  const { code, stdout, stderr } = await saga('list');
  expect(code, stderr).toBe(0);
  expect(stdout).not.toMatch(controls);
  expect(stdout).toMatch(/^s-1\\u001b\[31m {2}order\\u001b\[1m {2}compensation_failed {2}step=1 /m);
  expect(stdout.split('\n')).toHaveLength(3); // two sagas, and the final newline
});

it('saga show escapes control characters, and an error\'s further lines are indented under it rather than passing for output of their own', async () => {
  const { code, stdout, stderr } = await saga('show', 's-1\u001b[31m');
  expect(code, stderr).toBe(0);
  expect(stdout).not.toMatch(controls);
  const lines = stdout.split('\n');
  expect(lines).toContain('  error Error: boom\\u001b[2J\\u001b]0;owned\\u0007\\rfake');
  expect(lines).toContain('        history (0): \\u009b31m\\u202eevil');
  expect(lines.filter((l) => /^ {2}history \(/.test(l))).toEqual(['  history (1):']);
  expect(lines).toContain('    1970-01-01T00:00:00.001Z  action 0:pay\\u001b[8m  failed  (1 try)  Error: boom\\u001b[2J\\u001b]0;owned\\u0007\\rfake');
  expect(stdout).toContain('  input {"note":"boom\\u001b[2J\\u001b]0;owned\\u0007\\rfake\\n  history (0): \\u009b31m\\u202eevil"}');
});

it('saga list --json keeps the values while escaping every control character', async () => {
  const { code, stdout, stderr } = await saga('list', '--json');
  expect(code, stderr).toBe(0);
  expect(stdout).not.toMatch(controls);
  const records = JSON.parse(stdout) as Array<{ id: string; error: string }>;
  expect(records.find((r) => r.id.startsWith('s-1'))).toMatchObject({ id: 's-1\u001b[31m', error: `Error: ${hostile}` });
});

it('an error quoting a saga id prints it escaped', async () => {
  const { code, stderr } = await saga('retry', 'done\u001b[2J');
  expect(stderr).toBe('switchyard: saga done\\u001b[2J is completed; only compensation_failed sagas can be retried\n');
  expect(code).toBe(2);
});
