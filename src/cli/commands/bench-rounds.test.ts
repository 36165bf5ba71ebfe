import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { spawnCli } from './cli.test-support.ts';

// `--rounds abc` used to become NaN rounds: no benchmark ran, and a report of NaN figures was
// written with exit 0. The value is checked while the options are parsed, before anything runs,
// so these runs return at once and leave no results folder.
const root = mkdtempSync(join(tmpdir(), 'sy-cli-bench-rounds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it.each(['abc', '0', '-1', '2.5', ''])('bench --rounds "%s" is a usage error (exit 2) that writes nothing', async (rounds) => {
  const out = join(root, `out-${rounds || 'empty'}`);
  const { code, stdout, stderr } = await spawnCli(['bench', '--quick', '--rounds', rounds, '--out', out]).done;
  expect(stderr.trim()).toBe(`switchyard: --rounds must be a whole number ≥ 1, got "${rounds}"`);
  expect(code).toBe(2);
  expect(stdout).toBe('');
  expect(existsSync(out)).toBe(false);
});
