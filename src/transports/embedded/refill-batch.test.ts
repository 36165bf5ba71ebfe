import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { embedded } from './index.ts';

const COUNT = 5_000;
const KEYS = 50;

describe('read-ahead of a group with more handlers than busy keys', () => {
  // Regression: a process behind the socket takes up to concurrency + 256 messages, more than the
  // keys in flight, so every acknowledgement let the group read the log again, for one record —
  // with a buffer of up to 1 MiB. Keyed messages went some 50 times slower than in-process.
  it('reads the log in batches, not once per message, while a connected process consumes keyed messages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-refill-'));
    const bus = embedded({ dir, fsync: 'never', partitions: 1 });
    await bus.connect();
    await bus.publish(
      'keyed',
      Array.from({ length: COUNT }, (_, i) => ({ id: `m-${i}`, key: `k-${i % KEYS}`, payload: Buffer.from(String(i)) })),
    );
    // Counts the real reads of the partition's log (each still done by the log itself).
    const log = bus.broker!.topics.get('keyed')!.log.partitions[0]!;
    const read = log.read.bind(log);
    let reads = 0;
    log.read = (...args) => {
      reads++;
      return read(...args);
    };
    const script = fileURLToPath(new URL('./fixtures/slow-subscriber.ts', import.meta.url));
    const child = spawn(process.execPath, [script, dir, 'keyed', String(COUNT), '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const got: string[] = [];
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('got ')) got.push(line.slice(4));
      }
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      child.stdin!.write('go\n'); // its handlers finish at once
      expect(await exited).toBe(0);
      expect(got).toHaveLength(COUNT);
      // Each key's messages in order.
      const byKey = new Map<number, number[]>();
      for (const id of got) {
        const i = Number(id.slice(2));
        byKey.set(i % KEYS, [...(byKey.get(i % KEYS) ?? []), i]);
      }
      for (const seq of byKey.values()) expect(seq).toEqual([...seq].sort((a, b) => a - b));
      expect(reads, `${reads} reads of the log for ${COUNT} messages`).toBeLessThan(COUNT / 20);
    } finally {
      child.kill();
      await bus.close();
    }
  });
});
