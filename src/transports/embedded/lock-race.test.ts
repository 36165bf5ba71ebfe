import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isTransportError } from '../../core/errors.ts';

/**
 * The race needs the lock removed between two reads of the lock code, microseconds apart. The
 * real `readFileSync` does every read; this wrapper only removes the real file, with the real
 * `unlinkSync`, right before the read numbered `removeAt` — the moment a holder releasing its
 * lock would hit.
 */
const race = { reads: 0, removeAt: 0 };
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const readFileSync = ((path: fs.PathOrFileDescriptor, options?: unknown) => {
    if (typeof path === 'string' && path.endsWith('owner.lock') && ++race.reads === race.removeAt) real.unlinkSync(path);
    return real.readFileSync(path, options as BufferEncoding);
  }) as typeof real.readFileSync;
  return { ...real, readFileSync, default: { ...real, readFileSync } };
});

const { LOCK_FILE, tryLock } = await import('./lock.ts');
const { embedded } = await import('./index.ts');

afterEach(() => {
  race.reads = 0;
  race.removeAt = 0;
});

describe('owner lock removed while it is being looked at', () => {
  // Regression: a lock seen empty (its creator still writing its pid) on every look was read once
  // more without a catch; removed just then — its creator gave up, or closed — connect() failed
  // with a bare "ENOENT: no such file or directory, open …/owner.lock".
  it('takes the lock when it is removed right after the last look found it still without a pid', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'sy-lock-race-'));
    fs.writeFileSync(join(dir, LOCK_FILE), ''); // being written: fresh, so never taken for abandoned
    race.removeAt = 6; // five looks find it empty; it goes before the sixth read
    const bus = embedded({ dir, share: false });
    await bus.connect();
    expect(bus.role).toBe('owner');
    expect(race.reads).toBeGreaterThanOrEqual(6);
    expect(Number.parseInt(fs.readFileSync(join(dir, LOCK_FILE), 'utf8'), 10)).toBe(process.pid);
    await bus.close();
  });

  it('says a lock that stays without a pid is being taken by another process, and takes it once it goes', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'sy-lock-race-'));
    fs.writeFileSync(join(dir, LOCK_FILE), ''); // fresh: its creator may be writing it right now
    expect(tryLock(dir)).toEqual({ owned: false, pid: Number.NaN });
    const error = await embedded({ dir, connectTimeoutMs: 200 })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isTransportError(error), String(error)).toBe(true);
    expect((error as Error).message).toContain(`another process is taking it (its ${LOCK_FILE} has no pid yet)`);
    fs.unlinkSync(join(dir, LOCK_FILE));
    const lock = tryLock(dir);
    expect(lock.owned).toBe(true);
    if (lock.owned) lock.release();
  });
});
