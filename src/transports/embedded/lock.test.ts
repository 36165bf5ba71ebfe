import { existsSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LOCK_FILE, tryLock } from './lock.ts';

/** A pid that is not running: far above the kernel's default pid_max. */
const DEAD_PID = 2 ** 22 + 12_345;

describe('owner lock', () => {
  it('is exclusive while its holder lives, and released on release()', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    writeFileSync(join(dir, LOCK_FILE), String(process.ppid)); // a live process that is not us
    expect(tryLock(dir)).toEqual({ owned: false, pid: process.ppid });
    const other = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    const lock = tryLock(other);
    expect(lock.owned).toBe(true);
    expect(Number.parseInt(readFileSync(join(other, LOCK_FILE), 'utf8'), 10)).toBe(process.pid); // the pid first, as earlier versions read it
    if (lock.owned) lock.release();
    expect(existsSync(join(other, LOCK_FILE))).toBe(false);
  });

  it('takes over a lock whose process died, and a takeover guard whose holder died', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    writeFileSync(join(dir, LOCK_FILE), String(DEAD_PID));
    writeFileSync(join(dir, `${LOCK_FILE}.takeover`), String(DEAD_PID + 1));
    const lock = tryLock(dir);
    expect(lock.owned).toBe(true);
    expect(Number.parseInt(readFileSync(join(dir, LOCK_FILE), 'utf8'), 10)).toBe(process.pid);
    expect(existsSync(join(dir, `${LOCK_FILE}.takeover`))).toBe(false);
    if (lock.owned) lock.release();
  });

  // Regression: a process killed between creating the lock and writing its pid (or an OS crash
  // before the pid reached the disk) left an empty lock, and the directory could never be opened.
  it('takes over a lock or a takeover guard left without a pid, once it is too old to be still being written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    writeFileSync(join(dir, LOCK_FILE), '');
    expect(tryLock(dir).owned).toBe(false); // its creator may be writing it right now
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, LOCK_FILE), past, past);
    const lock = tryLock(dir);
    expect(lock.owned).toBe(true);
    if (lock.owned) lock.release();

    writeFileSync(join(dir, LOCK_FILE), String(DEAD_PID));
    writeFileSync(join(dir, `${LOCK_FILE}.takeover`), '');
    utimesSync(join(dir, `${LOCK_FILE}.takeover`), past, past);
    const again = tryLock(dir);
    expect(again.owned).toBe(true);
    expect(existsSync(join(dir, `${LOCK_FILE}.takeover`))).toBe(false);
    if (again.owned) again.release();
  });

  it('waits for a live process that is taking over instead of racing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    writeFileSync(join(dir, LOCK_FILE), String(DEAD_PID));
    writeFileSync(join(dir, `${LOCK_FILE}.takeover`), String(process.ppid));
    expect(tryLock(dir)).toEqual({ owned: false, pid: process.ppid });
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(DEAD_PID)); // left to the taker
  });

  it("never takes over this process's own lock, but does take over one an earlier process with our pid left", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    const first = tryLock(dir);
    expect(first.owned).toBe(true);
    // Held here: the same pid in the file is not a dead owner (a reopen during close used to take it over).
    expect(tryLock(dir)).toEqual({ owned: false, pid: process.pid });
    if (first.owned) first.release();
    // Same pid, not held by this process: left by an earlier process that had our pid (a container restart).
    writeFileSync(join(dir, LOCK_FILE), `${process.pid} 0123456789abcdef -\n`);
    const second = tryLock(dir);
    expect(second.owned).toBe(true);
    if (second.owned) second.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('release() removes only the lock it created, not one that replaced it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    const lock = tryLock(dir);
    expect(lock.owned).toBe(true);
    const successor = `${process.pid} fedcba9876543210 -\n`; // another owner's lock, with the same pid
    writeFileSync(join(dir, LOCK_FILE), successor);
    if (lock.owned) lock.release();
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(successor);
  });

  it.skipIf(!existsSync('/proc/self/stat'))('takes over a lock whose pid now belongs to another process (pid reuse), told apart by its start time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // Our parent runs, but it is not the process that wrote this lock: that one started at tick 1.
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid} 0123456789abcdef ${boot}/1\n`);
    const lock = tryLock(dir);
    expect(lock.owned).toBe(true);
    if (lock.owned) lock.release();
    // The same lock from another boot is as stale; and one with the holder's real start time is not.
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    writeFileSync(join(dir, LOCK_FILE), `${process.ppid} 0123456789abcdef ${boot}/${start}\n`);
    expect(tryLock(dir)).toEqual({ owned: false, pid: process.ppid });
  });
});
