import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// `switchyard demo` interrupted as a user does it: a real process, a real signal, mid-run.
const main = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const scratch: string[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts the demo with its own TMPDIR (so its temporary data folder is the only one there), signals it once it runs, and waits for it to exit. */
async function interrupt(signal: 'SIGINT' | 'SIGTERM'): Promise<{ code: number | null; stderr: string; tmp: string }> {
  const tmp = mkdtempSync(join(tmpdir(), 'demo-interrupt-'));
  scratch.push(tmp);
  const child = spawn(
    process.execPath,
    ['--conditions=switchyard-source', main, 'demo', '--duration', '60', '--rate', '20', '--customers', '20', '--products', '10', '--no-dashboard'],
    { env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // The first progress line: the broker, the shop and the load are all running.
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (stdout.includes(' orders/s |')) resolve();
    });
    void exited.then(() => reject(new Error(`the demo exited before it ran: ${stderr}`)));
  });
  expect(readdirSync(tmp).filter((n) => n.startsWith('switchyard-demo-'))).toHaveLength(1);
  child.kill(signal);
  return { code: await exited, stderr, tmp };
}

describe('switchyard demo, interrupted', () => {
  it('on SIGINT stops the load, removes its temporary data folder and exits 130', async () => {
    const { code, stderr, tmp } = await interrupt('SIGINT');
    expect(stderr).toContain('interrupted — stopping and cleaning up…');
    expect(stderr).toContain('stopped; the temporary data folder was removed');
    expect(code).toBe(130);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('on SIGTERM does the same and exits 143', async () => {
    const { code, stderr, tmp } = await interrupt('SIGTERM');
    expect(stderr).toContain('interrupted — stopping and cleaning up…');
    expect(code).toBe(143);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('--help states the dashboard port default once', () => {
    const help = execFileSync(process.execPath, ['--conditions=switchyard-source', main, 'demo', '--help'], { encoding: 'utf8' }).replace(/\s+/g, ' ');
    expect(help).toContain('--dashboard-port <port> dashboard port on 127.0.0.1 (default: any free port) --dashboard-host');
  });
});
