import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
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

  it('names the brokers one level down, as `switchyard demo --dir` keeps them (broker/, realtime/)', async () => {
    // The demo's --dir holds a broker per role, not one broker: `topics --dir` of it said only
    // "check --dir", and nothing told the user which folder to give instead.
    const dir = mkdtempSync(join(root, 'demo-'));
    for (const name of ['realtime', 'broker']) {
      const bus = embedded({ dir: join(dir, name) });
      await bus.publish('orders', { payload: new Uint8Array(1) });
      await bus.close();
    }
    mkdirSync(join(dir, 'events'));
    const { code, stderr } = await spawnCli(['dlq', 'list', 'orders.requests', '--dir', dir]).done;
    expect(stderr.trim()).toBe(`switchyard: no embedded broker in ${dir} (the directory has no topics/ folder); did you mean --dir ${join(dir, 'broker')} or --dir ${join(dir, 'realtime')}?`);
    expect(code).toBe(2);
  });
});
