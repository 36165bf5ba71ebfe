#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { redact } from '../core/redact.ts';
import { commands } from './commands/index.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; description: string };

const program = new Command()
  .name('switchyard')
  .description(pkg.description)
  .version(pkg.version, '-v, --version', 'print the version')
  .showHelpAfterError('(run "switchyard --help" for the commands and options)');

for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const e = error as Error & { code?: string };
  console.error(`switchyard: ${redact(e.message)}`); // connection URLs in messages keep their user, never their password
  process.exitCode = e.code === 'CONFIG' ? 2 : 1;
}
