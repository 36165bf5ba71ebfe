import { readdirSync, readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { commands } from './commands/index.ts';

// The command lines the docs show are what users paste into a shell. Each must survive the shell
// (a pattern such as orders.> left unquoted is a redirection: it created a file named "--dir" and
// passed the CLI a different command line) and be accepted by the CLI: every command, option and
// option value as documented. Nothing runs: the commands' actions are replaced.

const root = new URL('../../', import.meta.url);
const pages = [...readdirSync(new URL('docs/', root)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), 'README.md'];

/** The ways docs start a `switchyard` command line, and where the CLI's own arguments begin. */
const launchers = [/^switchyard (?=[a-z])/, /^npx switchyard /, /^node --conditions=switchyard-source src\/cli\/main\.ts /, /^npm start -- /, /^npm run bench -- /];

interface DocumentedLine {
  where: string;
  line: string;
  args: string;
  /** The CLI command a launcher implies (`npm start` is `switchyard demo`). */
  implied: string[];
}

/** Every command line inside the code fences of the docs, with the arguments after its launcher. */
function documentedLines(): DocumentedLine[] {
  const found: DocumentedLine[] = [];
  for (const page of pages) {
    let fenced = false;
    readFileSync(new URL(page, root), 'utf8')
      .split('\n')
      .forEach((text, i) => {
        if (/^\s*```/.test(text)) fenced = !fenced;
        const line = text.trim();
        if (!fenced) return;
        for (const launcher of launchers) {
          const match = launcher.exec(line);
          if (!match) continue;
          const args = line.slice(match[0].length);
          if (/^[a-z-]+:/.test(args)) break; // output quoted in the docs ("switchyard demo: 10 s at…"), not a command
          const implied = launcher.source.includes('npm start') ? ['demo'] : launcher.source.includes('bench') ? ['bench'] : [];
          found.push({ where: `${page}:${i + 1}`, line, args, implied });
          break;
        }
      });
  }
  return found;
}

/**
 * The words a POSIX shell passes for `args`, or the problem a shell would make of them: an
 * unquoted redirection, pipe, separator or glob character. `# comment` ends the line. A synopsis's
 * placeholders (`<id>`) stand for a value, and its brackets (`[--status S]`) mark what may be left out.
 */
function shellWords(args: string): { words: string[]; problem?: string } {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const c = args[i]!;
    if (c === "'" || c === '"') {
      const end = args.indexOf(c, i + 1);
      if (end < 0) return { words, problem: `unclosed ${c}` };
      word = (word ?? '') + args.slice(i + 1, end);
      i = end;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === '#' && word === undefined) {
      break;
    } else if (c === '<' && word === undefined && /^<[a-z-]+>/i.test(args.slice(i))) {
      const end = args.indexOf('>', i);
      word = 'placeholder';
      i = end;
    } else if ((c === '[' && word === undefined) || (c === ']' && /^\]($|\s)/.test(args.slice(i)))) {
      continue;
    } else if ('<>|;&*?'.includes(c)) {
      return { words, problem: `unquoted ${c} in "${(word ?? '') + args.slice(i).split(/\s/)[0]}": the shell takes it (quote the argument)` };
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return { words };
}

/** The CLI with every command registered as `main.ts` does, the actions doing nothing, and its output captured. */
function quietProgram(): { program: Command; errors: string[] } {
  const errors: string[] = [];
  const program = new Command()
    .name('switchyard')
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: (text) => void errors.push(text) });
  for (const register of commands) register(program);
  const silence = (command: Command): void => {
    command.configureOutput({ writeOut: () => {}, writeErr: (text) => void errors.push(text) });
    if (command.commands.length === 0) command.action(() => {});
    command.commands.forEach(silence);
  };
  silence(program);
  return { program, errors };
}

const lines = documentedLines();

describe('command lines in the docs', () => {
  it('are found (the docs show the CLI)', () => {
    expect(lines.length).toBeGreaterThan(10);
  });

  it.each(lines.map((l) => [l.where, l] as const))('%s survives the shell and is accepted by the CLI', async (_where, { line, args, implied }) => {
    const { words, problem } = shellWords(args);
    expect(problem, line).toBeUndefined();
    const { program, errors } = quietProgram();
    let refused: string | undefined;
    try {
      await program.parseAsync([...implied, ...words], { from: 'user' });
    } catch (error) {
      refused = error instanceof CommanderError ? `${error.message} ${errors.join('')}` : (error as Error).message;
    }
    expect(refused, line).toBeUndefined();
  });
});
