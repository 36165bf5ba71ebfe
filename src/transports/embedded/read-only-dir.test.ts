import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTransportError } from '../../core/errors.ts';
import { Inbox } from '../../testing/inbox.ts';
import { spawnOwner } from './fixtures/spawn-owner.ts';
import { embedded } from './index.ts';

/**
 * The data directory, and a read-only bind mount of it (`ro`): the same files, seen as on a
 * read-only file system. Needs root (or CAP_SYS_ADMIN); the tests are skipped where it cannot mount.
 */
const base = mkdtempSync(join(tmpdir(), 'sy-readonly-'));
const dir = join(base, 'data');
const ro = join(base, 'ro');
let mounted = false;
try {
  mkdirSync(ro);
  mkdirSync(dir, { mode: 0o700 });
  execFileSync('mount', ['--bind', dir, ro], { stdio: 'ignore' });
  mounted = true;
  execFileSync('mount', ['-o', 'remount,bind,ro', ro], { stdio: 'ignore' });
} catch {
  if (mounted) execFileSync('umount', [ro]);
  mounted = false;
}

describe.skipIf(!mounted)('embedded data directory on a read-only file system', () => {
  beforeAll(async () => {
    const first = embedded({ dir, share: false });
    await first.publish('t', { id: 'before', payload: Buffer.from('x') });
    await first.close();
  });
  afterAll(() => {
    execFileSync('umount', [ro]);
  });

  // Regression: every process chmod'ed the directory, and on a read-only mount that failed with a
  // bare "EROFS: read-only file system, chmod" — even for one that only connects to the owner.
  it('lets a process that reaches the directory through a read-only mount connect to the running owner', async () => {
    const owner = await spawnOwner(dir);
    const client = embedded({ dir: ro });
    try {
      await client.connect();
      expect(client.role).toBe('client');
      const inbox = new Inbox();
      await client.subscribe('t', { group: 'readers', from: 'earliest' }, async (m) => inbox.push(m));
      await client.publish('t', { id: 'through-ro', payload: Buffer.from('y') });
      await inbox.untilCount(2, 10_000);
      expect([...inbox.ids()].sort()).toEqual(['before', 'through-ro']);
    } finally {
      await client.close();
      await owner.stop();
    }
  });

  it('says that nobody owns the directory and this process cannot write it, without changing anything', async () => {
    const error = await embedded({ dir: ro })
      .connect()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(isTransportError(error), String(error)).toBe(true);
    expect((error as Error).message).toContain('the file system is read-only; remount it read-write (EROFS)');
    expect((error as Error).message).toContain('no running process owns this directory');
  });
});
