import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { embedded } from './index.ts';

describe('embedded broker at the open-files limit', () => {
  // Regression: the refusal said only "EMFILE: too many open files, open …" and "try again once
  // the problem is fixed", not which limit it was nor that the broker holds a file per segment.
  it('refuses the publish that meets `ulimit -n` saying which limit and what to do, and keeps every acknowledged message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-emfile-'));
    const script = fileURLToPath(new URL('./fixtures/many-topics-writer.ts', import.meta.url));
    // A shell sets the limit for the writer alone (exec: the writer is the process it limits).
    const out = execFileSync('sh', ['-c', 'ulimit -n 64 && exec "$0" "$1" "$2"', process.execPath, script, dir], { encoding: 'utf8', timeout: 60_000 });
    const { acked, refusal } = JSON.parse(out) as { acked: string[]; refusal?: { name: string; message: string; retryable: boolean } };
    expect(refusal, 'the writer met no limit').toBeDefined();
    expect(refusal!.name).toBe('TransportError');
    expect(refusal!.message).toMatch(/^opening topic "topic-\d+" in .* failed: this process has as many files open as its limit allows \(ulimit -n; the broker keeps one open per segment of every partition\); raise the limit.* \(EMFILE\)\./);
    expect(refusal!.retryable).toBe(true);
    expect(acked.length).toBeGreaterThan(10);

    // With the usual limit, the directory opens and holds exactly what was acknowledged.
    const bus = embedded({ dir, share: false });
    const ends = new Map((await bus.inspect()).map((t) => [t.topic, t.partitions[0]!.endOffset]));
    for (const topic of acked) expect(ends.get(topic), topic).toBe(1);
    const refusedTopic = /topic-\d+/.exec(refusal!.message)![0];
    expect(ends.get(refusedTopic) ?? 0).toBe(0);
    expect([...ends.values()].reduce((a, b) => a + b, 0)).toBe(acked.length);
    await bus.close();
  });
});
