import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli } from './cli.test-support.ts';

// Opening an embedded broker creates its directory. A command that only looks (or, for replay,
// only acts on what is there) must not: a mistyped --dir would leave an empty broker behind and
// the command would answer "nothing there" with exit 0, hiding the typo.
const root = mkdtempSync(join(tmpdir(), 'sy-cli-nodir-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const commands: Array<[string, string[]]> = [
  ['topics', ['topics']],
  ['lag', ['lag']],
  ['dlq list', ['dlq', 'list', 'orders']],
  ['dlq replay', ['dlq', 'replay', 'orders', '--all', '--yes']],
  ['tail', ['tail', 'orders.>']],
];

describe('read-only commands on a --dir that holds no embedded broker', () => {
  it.each(commands)('%s refuses a directory that does not exist (exit 2) and does not create it', async (_, args) => {
    const dir = join(root, `typo-${args[0]}-${args[1] ?? ''}`);
    const { code, stdout, stderr } = await spawnCli([...args, '--dir', dir]).done;
    expect(stderr.trim()).toBe(`switchyard: no embedded broker in ${dir} (the directory does not exist); check --dir`);
    expect(code).toBe(2);
    expect(stdout).toBe(''); // no "no topics" / "no dead letters" answer
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses an existing directory that is not a broker’s (no topics/ folder) and leaves it empty', async () => {
    // e.g. `--dir .` or `--dir ~`: an embedded broker would write offsets.jsonl and topics/ there.
    const dir = mkdtempSync(join(root, 'plain-'));
    const { code, stderr } = await spawnCli(['topics', '--dir', dir]).done;
    expect(stderr.trim()).toBe(`switchyard: no embedded broker in ${dir} (the directory has no topics/ folder); check --dir`);
    expect(code).toBe(2);
    expect(readdirSync(dir)).toEqual([]);
  });
});
