import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Recovery accepts a torn tail only in the last segment, so a segment must be wholly on disk
// before records go to the next one. With fsync 'never' the roll used to skip that sync: an OS
// crash soon after a roll could leave the previous segment cut short, and the directory could
// then not be opened. Which files a process syncs is only visible from outside it: strace.
const strace = spawnSync('strace', ['-f', '-e', 'trace=none', 'true']).status === 0;

describe('rolling to a new segment', () => {
  it.skipIf(!strace)("syncs the segment it leaves, and a new topic's settings, in every fsync mode, 'never' included (needs strace)", async () => {
    const dir = realpathSync(mkdtempSync(join(tmpdir(), 'sy-roll-'))); // strace shows real paths
    const trace = join(dir, 'strace.out');
    const writer = fileURLToPath(new URL('./fixtures/never-writer.ts', import.meta.url));
    const child = spawn('strace', ['-f', '-y', '-e', 'trace=fdatasync,fsync', '-o', trace, process.execPath, writer, join(dir, 'data')], { stdio: 'inherit' });
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);

    const partitionDir = join(dir, 'data', 'topics', 't', '0');
    const segments = readdirSync(partitionDir).filter((f) => f.endsWith('.log')).sort();
    expect(segments.length).toBeGreaterThan(3);
    const synced = new Set([...readFileSync(trace, 'utf8').matchAll(/sync\(\d+<([^>]+\.log)>\) = 0/g)].map((m) => m[1]));
    // Every segment it rolled away from, and not the active one: 'never' does not sync publishes.
    expect([...synced].sort()).toEqual(segments.slice(0, -1).map((f) => join(partitionDir, f)));
    // The topic's settings too, once, when it was created: an empty meta.json would not open.
    expect(readFileSync(trace, 'utf8')).toMatch(new RegExp(`sync\\(\\d+<${join(dir, 'data', 'topics', 't', 'meta.json.tmp').replaceAll('.', '\\.')}>\\) = 0`));
  });
});
