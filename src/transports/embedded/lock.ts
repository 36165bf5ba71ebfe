import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { diskError } from './disk-error.ts';

/** The lock file that makes one process the owner of a data directory. */
export const LOCK_FILE = 'owner.lock';

/** The result of trying to own a data directory. */
export type LockResult = { owned: true; release(): void } | { owned: false; pid: number };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the lock left by dead process `stalePid`. Only one process at a time may do so — the
 * one that creates `owner.lock.takeover` — and it re-checks under that guard that the lock still
 * names the dead process, so a fresh lock that another process just took is never removed.
 * Returns the pid of a live process busy taking over, if there is one.
 */
function removeStale(path: string, stalePid: number): number | undefined {
  const guard = `${path}.takeover`;
  try {
    const fd = openSync(guard, 'wx', 0o600);
    writeSync(fd, String(process.pid));
    closeSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    let holder: number;
    try {
      holder = Number.parseInt(readFileSync(guard, 'utf8'), 10);
    } catch {
      return undefined; // released meanwhile: try again
    }
    if (Number.isInteger(holder) && alive(holder)) return holder;
    try {
      if (Number.isInteger(holder)) unlinkSync(guard); // its holder died mid-takeover
    } catch {
      // gone already
    }
    return undefined;
  }
  try {
    if (Number.parseInt(readFileSync(path, 'utf8'), 10) === stalePid) unlinkSync(path);
  } catch {
    // removed meanwhile
  } finally {
    unlinkSync(guard);
  }
  return undefined;
}

/**
 * Tries to become the owner of `dir`: creates `owner.lock` exclusively with this process's id.
 * A lock left by a process that no longer runs (it crashed or was killed) is taken over.
 */
export function tryLock(dir: string): LockResult {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, String(process.pid));
      } catch (error) {
        // No room for the pid (a full disk): an empty lock would look forever half-written.
        closeSync(fd);
        unlinkSync(path);
        throw diskError(`taking the lock ${path}`, error, 'Nothing was changed; try again once this is fixed.');
      }
      closeSync(fd);
      let released = false;
      return {
        owned: true,
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch {
      continue; // removed meanwhile: try again
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return { owned: false, pid };
    if (Number.isNaN(pid)) {
      // Being written by a process that just created it; look again.
      continue;
    }
    const taker = removeStale(path, pid);
    if (taker !== undefined) return { owned: false, pid: taker };
  }
  const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
  return { owned: false, pid };
}
