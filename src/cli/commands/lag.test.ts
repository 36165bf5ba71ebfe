import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { embedded } from '../../transports/embedded/index.ts';
import { runCommand } from './cli.test-support.ts';
import { lagTable, registerLag } from './lag.ts';

const dir = mkdtempSync(join(tmpdir(), 'sy-cli-lag-'));
const root = fileURLToPath(new URL('../../../', import.meta.url));
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

  it('says which named group or topic an embedded directory does not hold, and what it holds', async () => {
    const own = mkdtempSync(join(tmpdir(), 'sy-cli-lag-missing-'));
    try {
      const bus = embedded({ dir: own });
      await bus.subscribe('cli.orders', { group: 'billing' }, async () => {});
      await bus.subscribe('cli.refunds', { group: 'audit' }, async () => {});
      await bus.close();
      await expect(runCommand(registerLag, ['lag', '--dir', own, '--group', 'biling'])).rejects.toThrow(`group "biling" not found in ${own}; groups there: audit, billing`);
      await expect(runCommand(registerLag, ['lag', '--dir', own, '--group', 'audit', '--topic', 'cli.orders'])).rejects.toThrow('group "audit" not found on topic "cli.orders"; groups on "cli.orders": billing');
      await expect(runCommand(registerLag, ['lag', '--dir', own, '--topic', 'cli.order'])).rejects.toThrow(`topic "cli.order" not found in ${own}; topics there: cli.orders, cli.refunds`);
      expect(await runCommand(registerLag, ['lag', '--dir', own, '--group', 'billing'])).toMatch(/^cli\.orders +billing +0/m);
      // Watching, the group may yet appear: it is reported once on stderr, and the watch goes on.
      const watch = spawn(process.execPath, ['src/cli/main.ts', 'lag', '--dir', own, '--group', 'biling', '--watch', '--interval', '50'], { cwd: root });
      let stderr = '';
      let samples = 0;
      const noted = new Promise<void>((resolve) => {
        const check = (): void => void (stderr.includes('group "biling" not found') && samples >= 3 && resolve());
        watch.stderr.on('data', (c: Buffer) => ((stderr += c.toString()), check()));
        watch.stdout.on('data', (c: Buffer) => ((samples += c.toString().split('no consumer groups').length - 1), check()));
      });
      await noted;
      const exited = new Promise<number | null>((resolve) => watch.once('exit', resolve));
      watch.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(stderr.split('not found').length - 1).toBe(1);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it('rejects a bad --interval with a message naming it', async () => {
    await expect(runCommand(registerLag, ['lag', '--dir', dir, '--interval', 'soon'])).rejects.toThrow(/--interval must be a positive number, got "soon"/);
  });
});

// The real CLI prints the same table.
describe('switchyard lag (through the CLI)', () => {
  it('prints the table', async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['src/cli/main.ts', 'lag', '--dir', dir], { cwd: root }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))),
    );
    expect(stdout).toMatch(/cli\.orders +billing +4/);
  });
});
