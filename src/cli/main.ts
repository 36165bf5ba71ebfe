#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { redact } from '../core/redact.ts';
import { commands } from './commands/index.ts';
import { printable } from './printable.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; description: string };

// exitOverride before the commands are added, so each one inherits it: commander's own usage
// errors (an unknown option, a missing argument) come back here instead of exiting with 1, and
// exit with 2 like every other usage error of the CLI.
const program = new Command()
  .name('switchyard')
  .description(pkg.description)
  .version(pkg.version, '-v, --version', 'print the version')
  .exitOverride();

for (const register of commands) register(program);

/** After a usage error, the help to read is the one of the command that was mistyped, not the program's list of commands. */
function hintAfterErrors(command: Command, path: string): void {
  command.showHelpAfterError(`(run "${path} --help" for ${command === program ? 'the commands and options' : 'its usage'})`);
  for (const sub of command.commands) hintAfterErrors(sub, `${path} ${sub.name()}`);
}
hintAfterErrors(program, 'switchyard');

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Already printed by commander: the help or version asked for (exit code 0), or a usage error.
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    const e = error as Error & { code?: string };
    // Connection URLs in messages keep their user, never their password; names and ids quoted
    // from the broker or database cannot act on the terminal. One problem per line stays so.
    console.error(`switchyard: ${redact(e.message).split('\n').map(printable).join('\n')}`);
    process.exitCode = e.code === 'CONFIG' ? 2 : 1;
  }
}
