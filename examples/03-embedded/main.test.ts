import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runExample } from '../../test/examples/run-example.ts';

it('examples/03-embedded: a second process publishes through the owner, and the owner consumes it from disk', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-example-'));
  const { stdout } = await runExample('examples/03-embedded/main.ts', [dir]);
  expect(stdout).toContain('publisher: published 3 orders as client');
  expect(stdout).toMatch(/billing: o-1 for alice from partition \d offset \d+/);
  expect(stdout).toMatch(/topic orders\.placed: 4 partition\(s\), 3 message\(s\), billing lag 0/);
  expect(stdout).toMatch(/topic customers\.state: 1 partition\(s\), 3 message\(s\)/);
  expect(stdout).toContain('embedded: revenue 67.49');
  // Run again on the same directory: the group continues where it left off, the data is still there.
  const again = await runExample('examples/03-embedded/main.ts', [dir]);
  expect(again.stdout).toMatch(/topic orders\.placed: 4 partition\(s\), 6 message\(s\), billing lag 0/);
});

it('examples/03-embedded without a folder removes the temporary broker folder it created', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'sy-example-tmp-')); // its own TMPDIR: what the example leaves is all that is there
  try {
    const { stdout } = await runExample('examples/03-embedded/main.ts', [], { TMPDIR: tmp });
    expect(stdout).toContain('embedded: revenue 67.49');
    expect(readdirSync(tmp)).toEqual([]);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
