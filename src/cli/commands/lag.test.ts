import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
import { runCommand } from './cli.test-support.ts';
import { lagTable, registerLag } from './lag.ts';

const dir = mkdtempSync(join(tmpdir(), 'sy-cli-lag-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('switchyard lag', () => {
  it('formats readings as a table, most behind first', () => {
    expect(
      lagTable([
        { transport: 'embedded', topic: 'orders', group: 'audit', messages: 3, partitions: [{ partition: 0, messages: 3 }] },
        { transport: 'embedded', topic: 'orders', group: 'billing', messages: 120, oldestAgeMs: 2_500 },
      ]),
    ).toBe(['TOPIC   GROUP    LAG  OLDEST  PARTITIONS', 'orders  billing  120  2.5 s   -', 'orders  audit      3  -       0:3'].join('\n'));
    expect(lagTable([])).toBe('no consumer groups');
  });

  it('prints the lag of an embedded broker’s groups', async () => {
    const bus = embedded({ dir });
    (await bus.subscribe('cli.orders', { group: 'billing' }, async () => {})).pause(); // falls behind from the start
    await bus.publish('cli.orders', Array.from({ length: 4 }, () => ({ payload: new Uint8Array(1) })));
    await bus.close();
    expect(await runCommand(registerLag, ['lag', '--dir', dir])).toMatch(/^TOPIC +GROUP +LAG +OLDEST +PARTITIONS\ncli\.orders +billing +4 +- +0:4$/m);
  });

  it('rejects a bad --interval with a message naming it', async () => {
    await expect(runCommand(registerLag, ['lag', '--dir', dir, '--interval', 'soon'])).rejects.toThrow(/--interval must be a positive number, got "soon"/);
  });
});

// The real CLI prints the same table.
const root = fileURLToPath(new URL('../../../', import.meta.url));
describe('switchyard lag (through the CLI)', () => {
  it('prints the table', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['src/cli/main.ts', 'lag', '--dir', dir], { cwd: root }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))),
    );
    expect(stdout).toMatch(/cli\.orders +billing +4/);
  });
});
