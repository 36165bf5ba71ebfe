import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OutgoingMessage } from '../../core/message.ts';
import { embedded } from '../../transports/embedded/index.ts';
import { spawnCli } from './cli.test-support.ts';

// One pass of listDeadLetters / replayDeadLetters looks at 10,000 dead letters at most. `dlq
// replay --all` stopped there and reported success (exit 0) with the rest still in the DLQ; `--id`
// said "not found" of a letter further on; `dlq list` showed the first 10,000 without a word.
const dir = mkdtempSync(join(tmpdir(), 'sy-cli-dlq-many-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const count = 10_050;

beforeAll(async () => {
  const bus = embedded({ dir });
  const letters: OutgoingMessage[] = [];
  for (let i = 0; i < count; i++) {
    letters.push({ id: `d-${i}`, payload: new TextEncoder().encode(`{"n":${i}}`), headers: { 'x-original-topic': 'orders', 'x-handler': 'bill', 'x-attempts': '1', 'x-failed-at': '2026-01-02T03:04:05.000Z', 'x-error': 'Error: boom' } });
  }
  for (let i = 0; i < letters.length; i += 1_000) await bus.publish('orders.dlq', letters.slice(i, i + 1_000));
  await bus.close();
}, 60_000);

const ids = (jsonLines: string): string[] =>
  jsonLines
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { id: string }).id);

it('dlq list says on stderr when it stopped at its limit, and --limit reads further', async () => {
  const first = await spawnCli(['dlq', 'list', 'orders', '--dir', dir, '--json', '--idle', '300']).done;
  expect(first.code, first.stderr).toBe(0);
  expect(ids(first.stdout)).toHaveLength(10_000);
  expect(first.stderr).toContain('listed the first 10000 dead letters of orders.dlq; there may be more (--limit to read more)');
  const all = await spawnCli(['dlq', 'list', 'orders', '--dir', dir, '--json', '--idle', '300', '--limit', '20000']).done;
  expect(all.code, all.stderr).toBe(0);
  expect(ids(all.stdout)).toHaveLength(count);
  expect(all.stderr).toBe('');
}, 120_000);

it('dlq replay --id finds a dead letter beyond the first 10,000, and --all replays every one', async () => {
  const one = await spawnCli(['dlq', 'replay', 'orders', '--dir', dir, '--id', 'd-10040', '--yes', '--idle', '300']).done;
  expect(one.stderr).toBe('');
  expect(one.stdout).toBe('replayed d-10040\n1 message(s) replayed from orders.dlq\n');
  expect(one.code).toBe(0);

  const all = await spawnCli(['dlq', 'replay', 'orders', '--dir', dir, '--all', '--yes', '--idle', '300']).done;
  expect(all.code, all.stderr).toBe(0);
  expect(all.stdout).toContain(`\n${count - 1} message(s) replayed from orders.dlq\n`);
  expect(new Set(all.stdout.split('\n').filter((l) => l.startsWith('replayed '))).size).toBe(count - 1);

  const left = await spawnCli(['dlq', 'list', 'orders', '--dir', dir, '--idle', '300']).done;
  expect(left.stdout).toBe('no dead letters in orders.dlq\n');

  // Every dead letter reached the original topic once.
  const bus = embedded({ dir });
  const topic = (await bus.inspect()).find((t) => t.topic === 'orders');
  await bus.close();
  expect(topic?.partitions.reduce((n, p) => n + p.endOffset, 0)).toBe(count);
}, 180_000);
