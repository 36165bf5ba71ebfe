import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
    expect(readFileSync(join(other, LOCK_FILE), 'utf8')).toBe(String(process.pid));
    if (lock.owned) lock.release();
    expect(existsSync(join(other, LOCK_FILE))).toBe(false);
  });

  it('takes over a lock whose process died, and a takeover guard whose holder died', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    writeFileSync(join(dir, LOCK_FILE), String(DEAD_PID));
    writeFileSync(join(dir, `${LOCK_FILE}.takeover`), String(DEAD_PID + 1));
    const lock = tryLock(dir);
    expect(lock.owned).toBe(true);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(process.pid));
    expect(existsSync(join(dir, `${LOCK_FILE}.takeover`))).toBe(false);
    if (lock.owned) lock.release();
  });

  it('waits for a live process that is taking over instead of racing it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-lock-'));
    writeFileSync(join(dir, LOCK_FILE), String(DEAD_PID));
    writeFileSync(join(dir, `${LOCK_FILE}.takeover`), String(process.ppid));
    expect(tryLock(dir)).toEqual({ owned: false, pid: process.ppid });
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(String(DEAD_PID)); // left to the taker
  });
});
