import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';

// `switchyard demo --profile mixed` with a service that is not there fails before the load starts;
// it left its temporary data folder (switchyard-demo-*) behind in the temp dir at every attempt.
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

it('a mixed run whose PostgreSQL is not reachable says what to do, exits 1 and leaves no temporary folder', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'demo-start-failure-'));
  scratch.push(tmp);
  // Nothing listens on port 1: the connection is refused at once.
  const env = { ...process.env, TMPDIR: tmp, SWITCHYARD_PG_URL: 'postgres://postgres@127.0.0.1:1/test' };
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, ['--conditions=switchyard-source', main, 'demo', '--profile', 'mixed', '--duration', '1', '--no-dashboard'], { env, timeout: 60_000 }, (error, _stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr }),
    );
  });
  expect(stderr).toContain('PostgreSQL is not reachable');
  expect(stderr).toContain('`npm run services` starts them on this machine');
  expect(stderr).not.toContain('    at '); // no stack trace
  expect(code).toBe(1);
  expect(readdirSync(tmp)).toEqual([]);
});
