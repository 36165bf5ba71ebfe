import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { json } from '../../codecs/json.ts';
import type { Message } from '../../core/message.ts';
import { deadLetter } from '../../middleware/dead-letter.ts';
import { Router } from '../../router/router.ts';
import { Inbox } from '../../testing/inbox.ts';
import { embedded } from '../../transports/embedded/index.ts';

const main = fileURLToPath(new URL('../main.ts', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
    );
  });
}

it('switchyard dlq list / replay: lists dead letters of an embedded topic and replays one, then all, to the original topic', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-dlq-cli-'));
  dirs.push(dir);
  const codec = json<{ n: number }>();
  const bus = embedded({ dir });
  const dead = new Inbox();
  await bus.subscribe('orders.placed.dlq', { group: 'watch', from: 'earliest' }, async (m) => dead.push(m));
  const router = new Router({ logger: { debug() {}, info() {}, warn() {}, error() {} } })
    .use(deadLetter({ maxAttempts: 1 }))
    .handle('bill', { from: bus, topic: 'orders.placed', group: 'billing', codec, start: 'earliest' }, async () => {});
  await router.start();
  const poison = ['p-1', 'p-2', 'p-3'];
  await bus.publish('orders.placed', [
    codec.encode({ n: 1 }),
    { id: 'p-1', key: 'a', payload: new TextEncoder().encode('{"n":') },
    codec.encode({ n: 2 }),
    { id: 'p-2', key: 'b', payload: new TextEncoder().encode('nope') },
    { id: 'p-3', key: 'c', payload: new TextEncoder().encode('{') },
  ]);
  await dead.untilCount(3, 30_000);
  await router.stop(); // closes bus

  const listed = await cli('dlq', 'list', 'orders.placed', '--dir', dir, '--idle', '200');
  expect(listed.code).toBe(0);
  for (const id of poison) expect(listed.stdout).toContain(id);
  expect(listed.stdout).toMatch(/handler=bill {2}orders\.placed\n {4}DecodeError: cannot decode message p-1/);

  expect((await cli('dlq', 'replay', 'orders.placed', '--dir', dir)).stderr).toMatch(/--id <id…> or --all/);
  const one = await cli('dlq', 'replay', 'orders.placed', '--dir', dir, '--id', 'p-2', '--idle', '200', '--yes');
  expect(one.stdout).toContain('replayed p-2\n1 message(s) replayed from orders.placed.dlq');
  const rest = await cli('dlq', 'list', 'orders.placed.dlq', '--dir', dir, '--idle', '200', '--json');
  expect(rest.stdout.trim().split('\n').map((l) => JSON.parse(l).id)).toEqual(['p-1', 'p-3']);
  const all = await cli('dlq', 'replay', 'orders.placed', '--dir', dir, '--all', '--idle', '200', '-y');
  expect(all.stdout).toContain('2 message(s) replayed');
  expect((await cli('dlq', 'list', 'orders.placed', '--dir', dir, '--idle', '200')).stdout).toContain('no dead letters in orders.placed.dlq');

  // The original topic now holds each poison message twice: as first published and as replayed (same id and key).
  const check = embedded({ dir });
  const seen = new Inbox();
  await check.subscribe('orders.placed', { group: `audit`, from: 'earliest' }, async (m: Message) => seen.push(m));
  await seen.untilCount(8, 30_000);
  await check.close();
  const replayed = seen.messages.filter((m) => poison.includes(m.id));
  expect(replayed.map((m) => m.id).sort()).toEqual(['p-1', 'p-1', 'p-2', 'p-2', 'p-3', 'p-3']);
  expect(replayed.every((m) => !('x-error' in m.headers))).toBe(true);
  expect(new Set(replayed.map((m) => `${m.id}:${m.key}`))).toEqual(new Set(['p-1:a', 'p-2:b', 'p-3:c']));
}, 120_000);
