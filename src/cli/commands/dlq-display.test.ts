import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
import { spawnCli } from './cli.test-support.ts';

// Dead letters come from any writer (an older version, another language, a hand edit), so their
// headers are not always what dead-letter() writes. `dlq list` shows them as they are: a
// malformed x-attempts as its raw text (it printed attempts=NaN, and null in JSON), and every
// line of a multi-line x-error indented under its entry (continuation lines read as new entries).
const dir = mkdtempSync(join(tmpdir(), 'sy-cli-dlq-display-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  const bus = embedded({ dir });
  const headers = { 'x-original-topic': 'orders', 'x-handler': 'bill', 'x-failed-at': '2026-01-02T03:04:05.000Z' };
  await bus.publish('orders.dlq', [
    { id: 'odd-attempts', payload: new Uint8Array(1), headers: { ...headers, 'x-attempts': 'lots', 'x-error': 'boom' } },
    { id: 'stack', payload: new Uint8Array(1), headers: { ...headers, 'x-attempts': '3', 'x-error': 'Error: refused\n    at charge (billing.ts:10:5)\r\n    at main.ts:3:1' } },
  ]);
  await bus.close();
});

it('prints a malformed x-attempts as its raw value and indents every line of a multi-line error', async () => {
  const { code, stdout, stderr } = await spawnCli(['dlq', 'list', 'orders', '--dir', dir, '--idle', '200']).done;
  expect(code, stderr).toBe(0);
  expect(stdout).toBe(
    [
      'odd-attempts  2026-01-02T03:04:05.000Z  attempts="lots"  handler=bill  orders',
      '    boom',
      'stack  2026-01-02T03:04:05.000Z  attempts=3  handler=bill  orders',
      '    Error: refused',
      '        at charge (billing.ts:10:5)',
      '        at main.ts:3:1',
      '',
    ].join('\n'),
  );
});

it('--json gives attempts as the raw header text when it is not a number, not null', async () => {
  const { code, stdout, stderr } = await spawnCli(['dlq', 'list', 'orders', '--dir', dir, '--idle', '200', '--json']).done;
  expect(code, stderr).toBe(0);
  const [odd, stack] = stdout.trim().split('\n').map((line) => JSON.parse(line) as { id: string; attempts: unknown; error: string });
  expect([odd!.id, odd!.attempts]).toEqual(['odd-attempts', 'lots']);
  expect([stack!.id, stack!.attempts]).toEqual(['stack', 3]);
  expect(stack!.error).toBe('Error: refused\n    at charge (billing.ts:10:5)\r\n    at main.ts:3:1'); // JSON keeps the text unchanged
});
