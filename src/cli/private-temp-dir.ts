import { mkdtempSync, rmSync } from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';

/** What {@link usePrivateTempDir} hands back. */
export interface PrivateTempDir {
  /** The folder every `os.tmpdir()` of this process (and of the children it starts) now returns. */
  readonly path: string;
  /** Removes the folder and everything in it, and stops watching for signals. */
  remove(): void;
}

/**
 * Points `os.tmpdir()` of this process, and of every process it starts, at a fresh folder of its
 * own, removed by {@link PrivateTempDir.remove} — or at the first SIGINT or SIGTERM, after which
 * the process exits at once with 128 + the signal's number, having written `notice` to stderr.
 *
 * For work that creates data folders deep inside code that cannot be interrupted (a benchmark
 * round writing hundreds of MB): Ctrl-C used to kill the process between a folder's creation and
 * its removal, leaving the data behind in the temp dir.
 */
export function usePrivateTempDir(prefix: string, notice: string, stderr: NodeJS.WritableStream = process.stderr): PrivateTempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const previous = process.env['TMPDIR'];
  process.env['TMPDIR'] = path; // os.tmpdir() reads it at every call; children inherit it
  const remove = (): void => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) process.off(s, onSignal);
    if (previous === undefined) delete process.env['TMPDIR'];
    else process.env['TMPDIR'] = previous;
    rmSync(path, { recursive: true, force: true });
  };
  const onSignal = (name: NodeJS.Signals): void => {
    stderr.write(`\n${notice}\n`);
    remove();
    process.exit(128 + (constants.signals[name] ?? 0));
  };
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, onSignal);
  return { path, remove };
}
