import { createInterface } from 'node:readline/promises';
import { ConfigError } from '../core/errors.ts';

/** The streams a confirmation uses; the process's own by default. */
export interface ConfirmStreams {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

/**
 * Asks before a command changes data (replays, deletes). With `--yes` it goes ahead. On a
 * terminal it asks `question [y/N]` and resolves true only for y/yes. When stdin is not a
 * terminal (a script, CI) nothing can answer, so it throws a ConfigError (exit code 2) telling
 * the caller to pass `--yes`: a command that changes data never runs unconfirmed.
 *
 * @example
 * ```ts
 * if (!(await confirm('replay 3 dead letters to orders.placed?', opts.yes))) return;
 * ```
 */
export async function confirm(question: string, yes: boolean | undefined, streams: ConfirmStreams = { input: process.stdin, output: process.stderr }): Promise<boolean> {
  if (yes) return true;
  if (!streams.input.isTTY) {
    throw new ConfigError(`${question.replace(/\?$/, '')}: refusing without confirmation; stdin is not a terminal, so pass --yes to go ahead`);
  }
  const rl = createInterface({ input: streams.input, output: streams.output });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
