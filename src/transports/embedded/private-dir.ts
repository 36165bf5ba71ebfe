import { chmodSync, mkdirSync, statSync } from 'node:fs';

/** The code of the warning emitted when an existing data directory was open to other users. */
export const DATA_DIR_WARNING = 'SWITCHYARD_DATA_DIR_PERMISSIONS';

/**
 * Makes `dir` (and missing parents) exist with mode 0700: the log holds every payload, and the
 * socket in it accepts any local process that can reach it. A directory that already existed
 * with group or world access is tightened to 0700 and a process warning says so (code
 * `SWITCHYARD_DATA_DIR_PERMISSIONS`), since someone may have opened it on purpose.
 *
 * @example
 * ```ts
 * ensurePrivateDir('/var/lib/switchyard');
 * ```
 */
export function ensurePrivateDir(dir: string): void {
  let before: number | undefined;
  let directory = false;
  try {
    const stat = statSync(dir);
    before = stat.mode & 0o777;
    directory = stat.isDirectory();
  } catch {
    // does not exist yet: created below
  }
  // Already private: left untouched, so that a process reaching the directory through a
  // read-only mount (it only connects to the owner's socket) is not refused for a chmod it does
  // not need.
  if (directory && before === 0o700) return;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask and ignored for an existing directory: set it outright.
  chmodSync(dir, 0o700);
  if (before !== undefined && (before & 0o077) !== 0) {
    process.emitWarning(
      `embedded data directory ${dir} was accessible to other users (mode ${before.toString(8).padStart(4, '0')}); it holds every message and the broker socket, so it is now 0700`,
      { code: DATA_DIR_WARNING },
    );
  }
}
