import { expect, it } from 'vitest';
import { spawnCli } from './commands/cli.test-support.ts';

// Commander's own usage errors exited with 1, the code of a failed run, while the CLI's other
// usage errors (a bad --limit, no broker named) exit with 2; and the hint after them always named
// `switchyard --help`, which does not show the options of the command that was mistyped.

it.each([
  [['nosuch'], "error: unknown command 'nosuch'", '(run "switchyard --help" for the commands and options)'],
  [['dlq', 'list', 'orders', '--bogus'], "error: unknown option '--bogus'", '(run "switchyard dlq list --help" for its usage)'],
  [['dlq', 'list'], "error: missing required argument 'topic'", '(run "switchyard dlq list --help" for its usage)'],
  [['topics', '--dir'], "error: option '-d, --dir <dir>' argument missing", '(run "switchyard topics --help" for its usage)'],
  [['saga', 'show', 'a', 'b'], 'error: too many arguments for \'show\'. Expected 1 argument but got 2.', '(run "switchyard saga show --help" for its usage)'],
])('switchyard %j is a usage error: exit 2, with the hint to that command\'s help', async (args, error, hint) => {
  const { code, stdout, stderr } = await spawnCli(args).done;
  expect(stderr).toBe(`${error}\n${hint}\n`);
  expect(stdout).toBe('');
  expect(code).toBe(2);
});

it('a command group without its subcommand prints its help on stderr and exits 2', async () => {
  const { code, stdout, stderr } = await spawnCli(['dlq']).done;
  expect(stderr).toContain('Usage: switchyard dlq [options] [command]');
  expect(stdout).toBe('');
  expect(code).toBe(2);
});

it.each([[['--help']], [['dlq', 'replay', '--help']], [['help', 'saga']], [['--version']]])('switchyard %j prints on stdout and exits 0', async (args) => {
  const { code, stdout, stderr } = await spawnCli(args).done;
  expect(stderr).toBe('');
  expect(stdout).not.toBe('');
  expect(code).toBe(0);
});
