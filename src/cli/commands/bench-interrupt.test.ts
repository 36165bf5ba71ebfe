import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

// Ctrl-C during `switchyard bench` killed it between a round's data folder's creation and its
// removal: every interrupted run left its broker data (20 MB for a quick embedded run, far more
// for a full or backlog run) in the temp dir, and said nothing.
const main = fileURLToPath(new URL('../main.ts', import.meta.url));
// A short path: the embedded broker's socket path below it must fit in 103 bytes.
const tmp = mkdtempSync(join(tmpdir(), 'sy-bi-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it('bench interrupted mid-round says so, exits 130 and leaves nothing in the temp dir', { timeout: 120_000 }, async () => {
  const out = join(tmp, 'results');
  const child = spawn(process.execPath, [main, 'bench', '-s', 'embedded', '--quick', '--out', out], { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  // A round is running: its broker's data folder has just been created (wherever below the temp dir).
  const watcher = watch(tmp, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    watcher.on('change', (_event, name) => {
      if (String(name).includes('switchyard-bench-embedded-')) resolve();
    });
    void exited.then(() => reject(new Error(`bench exited before its first round: ${stderr}`)));
  }).finally(() => watcher.close());
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(stderr).toContain(`interrupted: the benchmark stopped and removed its data; nothing was written to ${out}`);
  expect(readdirSync(tmp)).toEqual([]);
});
