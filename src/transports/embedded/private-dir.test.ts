import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { embedded } from './index.ts';
import { DATA_DIR_WARNING } from './private-dir.ts';

const root = mkdtempSync(join(tmpdir(), 'sy-private-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Warnings with our code emitted while `fn` runs (process warnings are emitted on the next tick). */
async function warningsDuring(fn: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const listener = (w: Error & { code?: string }): void => {
    if (w.code === DATA_DIR_WARNING) seen.push(w);
  };
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

it('creates a new data directory with mode 0700 whatever the umask, without a warning', async () => {
  const dir = join(root, 'fresh', 'nested', 'data');
  const old = process.umask(0o000);
  try {
    const warnings = await warningsDuring(async () => {
      const bus = embedded({ dir, share: false });
      await bus.connect();
      await bus.close();
    });
    expect(warnings).toEqual([]);
  } finally {
    process.umask(old);
  }
  expect(statSync(dir).mode & 0o777).toBe(0o700);
});

it('tightens an existing group/world-readable data directory to 0700 and warns, naming it and its old mode', async () => {
  const dir = join(root, 'shared');
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  const warnings = await warningsDuring(async () => {
    const bus = embedded({ dir, share: false });
    await bus.connect();
    await bus.close();
  });
  expect(statSync(dir).mode & 0o777).toBe(0o700);
  expect(warnings).toHaveLength(1);
  expect(warnings[0]!.message).toBe(`embedded data directory ${dir} was accessible to other users (mode 0755); it holds every message and the broker socket, so it is now 0700`);
  // Already private: no warning the next time.
  const again = await warningsDuring(async () => {
    const bus = embedded({ dir, share: false });
    await bus.connect();
    await bus.close();
  });
  expect(again).toEqual([]);
});
