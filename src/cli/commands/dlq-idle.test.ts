import { expect, it } from 'vitest';
import { spawnCli } from './cli.test-support.ts';

// `--idle` used to reach setTimeout unchecked: "abc" and "-5" printed Node's TimeoutNaNWarning /
// TimeoutNegativeWarning and read with a 1 ms idle instead. It is checked while the options are
// parsed, so no broker is needed (the --dir below does not exist and is never opened).
const dir = '/nonexistent/switchyard-dlq-idle';

const positive = (v: string): string => `--idle must be a positive number, got "${v}"`;

it.each([
  [['list'], 'abc', positive('abc')],
  [['list'], '-5', positive('-5')],
  [['list'], '0', positive('0')],
  [['replay', '--all', '--yes'], 'abc', positive('abc')],
  // Beyond what a timer can wait: Node would warn and fire it after 1 ms.
  [['list'], '1e12', '--idle must be at most 2147483647 ms, got "1e12"'],
])('dlq %j --idle %s is a usage error (exit 2), not a Node warning', async ([command, ...flags], idle, message) => {
  const { code, stderr } = await spawnCli(['dlq', command!, 'orders', ...flags, '--dir', dir, '--idle', idle]).done;
  expect(stderr.trim()).toBe(`switchyard: ${message}`);
  expect(stderr).not.toContain('Warning');
  expect(code).toBe(2);
});

it('dlq list --help shows the --idle default as a number', async () => {
  const { code, stdout } = await spawnCli(['dlq', 'list', '--help']).done;
  expect(code).toBe(0);
  expect(stdout).toMatch(/--idle <ms> +stop reading after this long without a new message\s+\(default: 500\)/);
  expect(stdout).not.toContain('"500"');
});
