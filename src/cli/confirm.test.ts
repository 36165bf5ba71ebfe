import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDeadLetters } from '../router/dlq.ts';
import { embedded } from '../transports/embedded/index.ts';
import { confirm } from './confirm.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Runs a shell command line; stdin gets `input` (a pipe, not a terminal). */
function sh(command: string, input = ''): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile('/bin/sh', ['-c', command], { timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
    );
    child.stdin!.end(input);
  });
}
const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const cli = (dir: string, ...args: string[]): string => [process.execPath, main, 'dlq', 'replay', 'orders.placed', '--dir', dir, '--idle', '200', ...args].map(quote).join(' ');
/** util-linux `script` runs the command on a pseudo-terminal and feeds it our stdin. */
const hasScript = spawnSync('script', ['--version']).status === 0;
const onTerminal = (command: string): string => `script -qec ${quote(command)} /dev/null`;

async function deadLetters(count: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-confirm-'));
  dirs.push(dir);
  const bus = embedded({ dir, share: false });
  await bus.publish(
    'orders.placed.dlq',
    Array.from({ length: count }, (_, i) => ({ id: `d-${i}`, payload: Buffer.from('{}'), headers: { 'x-original-topic': 'orders.placed', 'x-error': 'Error: boom' } })),
  );
  await bus.close();
  return dir;
}

async function remaining(dir: string): Promise<number> {
  const bus = embedded({ dir, share: false });
  try {
    return (await listDeadLetters(bus, 'orders.placed.dlq', { idleMs: 200 })).length;
  } finally {
    await bus.close();
  }
}

describe('switchyard dlq replay asks before it changes anything', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await deadLetters(2);
  });

  it('refuses without --yes when stdin is not a terminal: exit code 2, a message naming --yes, nothing replayed', async () => {
    const run = await sh(cli(dir, '--all'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/dlq replay: republish every dead letter of orders\.placed\.dlq to the original topic: refusing without confirmation; stdin is not a terminal, so pass --yes to go ahead/);
    expect(await remaining(dir)).toBe(2);
  }, 60_000);

  it.skipIf(!hasScript)('on a terminal: "n" replays nothing (exit 1), "y" replays', async () => {
    const no = await sh(onTerminal(cli(dir, '--id', 'd-0')), 'n\n');
    expect(no.stdout).toMatch(/republish 1 dead letter\(s\) \(d-0\) of orders\.placed\.dlq to the original topic\? \[y\/N\]/);
    expect(no.stdout).toMatch(/not confirmed; nothing replayed/);
    expect(no.code).toBe(1);
    expect(await remaining(dir)).toBe(2);
    const yes = await sh(onTerminal(cli(dir, '--id', 'd-0')), 'y\n');
    expect(yes.stdout).toMatch(/replayed d-0/);
    expect(await remaining(dir)).toBe(1);
  }, 60_000);

  it('with --yes replays without asking', async () => {
    const run = await sh(cli(dir, '--all', '--yes'));
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/message\(s\) replayed from orders\.placed\.dlq/);
    expect(await remaining(dir)).toBe(0);
  }, 60_000);
});

describe('confirm()', () => {
  it('accepts y and yes on a terminal, anything else is no', async () => {
    for (const [answer, expected] of [['y', true], ['YES', true], ['', false], ['no', false], ['yep', false]] as const) {
      const input = Object.assign(new PassThrough(), { isTTY: true });
      const output = new PassThrough();
      const asked = confirm('drop it?', false, { input, output });
      input.write(`${answer}\n`);
      expect(await asked).toBe(expected);
    }
  });
});
