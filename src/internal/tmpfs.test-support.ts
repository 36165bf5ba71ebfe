import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Small tmpfs mounts for tests of what happens on a full disk: a file system that really fills
 * up, so every write meets ENOSPC the way it would on a full volume. Mounting needs root.
 */
const mounted: string[] = [];

/** Mounts a tmpfs of `sizeKiB` on a new directory and returns it. */
export function mountTmpfs(sizeKiB: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-full-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir]);
  mounted.push(dir);
  return dir;
}

/** Changes the size of a tmpfs mounted by `mountTmpfs`. */
export function resizeTmpfs(dir: string, sizeKiB: number): void {
  execFileSync('mount', ['-o', `remount,size=${sizeKiB}k`, dir]);
}

/** Unmounts and removes every tmpfs `mountTmpfs` made (for `afterEach`). */
export function unmountAllTmpfs(): void {
  for (const dir of mounted.splice(0)) {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Why a tmpfs cannot be mounted here, or undefined when it can. */
export function cannotMountTmpfs(): string | undefined {
  if (process.platform !== 'linux') return 'tmpfs mounts are a Linux feature';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  try {
    mountTmpfs(64);
    unmountAllTmpfs();
    return undefined;
  } catch (error) {
    return `mount -t tmpfs failed: ${(error as Error).message.split('\n')[0]}`;
  }
}

/** Fills what is left of the file system at `dir` with one file, and returns its path. */
export function fillTmpfs(dir: string): string {
  const path = join(dir, 'filler');
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; ; i++) {
    try {
      writeFileSync(path, chunk, { flag: 'a' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return path;
      throw error;
    }
    if (i > 10_000) throw new Error(`${dir} never filled up`);
  }
}
