import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { diskError } from './disk-error.ts';

/** The lock file that makes one process the owner of a data directory. */
export const LOCK_FILE = 'owner.lock';

/** The result of trying to own a data directory. */
export type LockResult = { owned: true; release(): void } | { owned: false; pid: number };

/**
 * The exact contents of the locks this process holds (each has a random token, so they name one
 * lock wherever its directory is reached from, symlinks included). A lock naming this process's
 * pid is ours only if it is here: one left by an earlier process that had the same pid (a
 * container restarted, a reboot) is stale, while ours must never be taken for stale — another
 * transport of this process opening the directory again would otherwise take it over and run a
 * second broker on the same files.
 */
const held = new Set<string>();

/**
 * What tells this process apart from a later one given the same pid: the boot and the start time
 * (clock ticks after boot) from /proc. Undefined where /proc does not have them (not Linux).
 */
function identity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after its last ')'
    // start at field 3, so the start time (field 22) is the 20th of them.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return start && boot ? `${boot}/${start}` : undefined;
  } catch {
    return undefined;
  }
}

let ownIdentity: string | undefined | null = null;

/**
 * How long a lock or takeover guard may stay without a pid because its creator is still writing
 * it (microseconds, normally). One older than that was left so by a creator that died in between —
 * `kill -9`, or an OS crash before the bytes reached the disk — and would lock the directory for ever.
 */
const WRITE_GRACE_MS = 2_000;

/** True when the file at `path` (without a pid) is older than WRITE_GRACE_MS: its writer is gone. */
function abandoned(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > WRITE_GRACE_MS;
  } catch {
    return false; // removed meanwhile: look again
  }
}

/**
 * The error for a lock or takeover guard that could not be created (a read-only file system, no
 * write permission): nobody live owns the directory, so this process would have to write it.
 */
function cannotCreate(path: string, error: unknown): Error {
  return diskError(
    `taking the lock ${path}`,
    error,
    'Nothing was changed: no running process owns this directory, and the process that opens it first must write it (processes that only connect to a running owner need no write access).',
  );
}

/** `<pid> <random token> <identity or ->`: the pid first, as earlier versions read only that. */
function lockContents(): string {
  if (ownIdentity === null) ownIdentity = identity(process.pid);
  return `${process.pid} ${randomBytes(8).toString('hex')} ${ownIdentity ?? '-'}\n`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the process that wrote `contents` (of a lock or takeover guard) still runs. A live pid is not
 * enough when the lock says which process it was: after a reboot or a container restart the pid
 * may belong to an unrelated process, which would keep the directory locked forever.
 */
function holderRuns(pid: number, contents: string): boolean {
  if (pid === process.pid) return held.has(contents);
  if (!alive(pid)) return false;
  const recorded = contents.trim().split(/\s+/)[2];
  if (recorded === undefined || recorded === '-') return true; // an earlier version's lock, or no /proc
  const now = identity(pid);
  return now === undefined || now === recorded;
}

/**
 * Removes the lock left by a dead process, whose contents were `stale`. Only one process at a
 * time may do so — the one that creates `owner.lock.takeover` — and it re-checks under that guard
 * that the lock is still exactly the one it found dead, so a fresh lock (which always has a token
 * of its own) that another process just took is never removed.
 * Returns the pid of a live process busy taking over, if there is one.
 */
function removeStale(path: string, stale: string): number | undefined {
  const guard = `${path}.takeover`;
  try {
    const fd = openSync(guard, 'wx', 0o600);
    writeSync(fd, lockContents());
    closeSync(fd);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotCreate(guard, error);
    let contents: string;
    try {
      contents = readFileSync(guard, 'utf8');
    } catch {
      return undefined; // released meanwhile: try again
    }
    const holder = Number.parseInt(contents, 10);
    if (Number.isInteger(holder) && holderRuns(holder, contents)) return holder;
    try {
      if (Number.isInteger(holder) || abandoned(guard)) unlinkSync(guard); // its holder died mid-takeover
    } catch {
      // gone already
    }
    return undefined;
  }
  try {
    if (readFileSync(path, 'utf8') === stale) unlinkSync(path);
  } catch {
    // removed meanwhile
  } finally {
    unlinkSync(guard);
  }
  return undefined;
}

/** Looks at a lock found without a pid (its creator still writing it) before calling it held. */
const EMPTY_LOOKS = 5;
/**
 * Tries in all, counting those that found the lock removed meanwhile. A lock that keeps coming and
 * going (processes opening and closing the directory), or stays held by a dead process another
 * process is busy taking over from, is reported as held by the last pid seen (`NaN`: none); the
 * caller looks again, as it does while an owner is starting.
 */
const MAX_TRIES = 20;

/** The lock's contents, or undefined when it was removed meanwhile (any other failure says what it was). */
function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw diskError(`reading the lock ${path}`, error, 'Nothing was changed; try again once this is fixed.');
  }
}

/**
 * Tries to become the owner of `dir`: creates `owner.lock` exclusively with this process's pid, a
 * random token and (on Linux) the process's boot and start time. A lock left by a process that no
 * longer runs (it crashed or was killed, or its pid now belongs to another process) is taken over.
 * A lock this process holds is never taken over: the result then names this process's pid.
 * A lock still without a pid (another process is creating it) is held, with pid `NaN`.
 * `release()` removes the lock only if it is still the one this call created.
 */
export function tryLock(dir: string): LockResult {
  const path = join(dir, LOCK_FILE);
  let emptyLooks = 0;
  let lastPid = Number.NaN;
  for (let attempt = 0; attempt < MAX_TRIES; attempt++) {
    const contents = lockContents();
    let fd: number | undefined;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotCreate(path, error);
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, contents);
      } catch (error) {
        // No room for the pid (a full disk): an empty lock would look forever half-written.
        closeSync(fd);
        unlinkSync(path);
        throw diskError(`taking the lock ${path}`, error, 'Nothing was changed; try again once this is fixed.');
      }
      closeSync(fd);
      held.add(contents);
      let released = false;
      return {
        owned: true,
        release() {
          if (released) return;
          released = true;
          held.delete(contents);
          try {
            // Only this lock: after a takeover the file may be another owner's by now.
            if (readFileSync(path, 'utf8') === contents) unlinkSync(path);
          } catch {
            // already gone
          }
        },
      };
    }
    // Removed meanwhile (its holder closed, or gave up creating it): try to take it again. The
    // last look at an empty lock used to read it once more without this, and connect() failed
    // with a bare ENOENT when the lock went just then.
    const found = readLock(path);
    if (found === undefined) continue;
    const pid = Number.parseInt(found, 10);
    lastPid = pid;
    if (Number.isNaN(pid)) {
      // Being written by a process that just created it (look again), unless it was left empty.
      if (!abandoned(path)) {
        if (++emptyLooks < EMPTY_LOOKS) continue;
        return { owned: false, pid };
      }
    } else if (pid > 0 && holderRuns(pid, found)) return { owned: false, pid };
    const taker = removeStale(path, found);
    if (taker !== undefined) return { owned: false, pid: taker };
  }
  return { owned: false, pid: lastPid };
}
