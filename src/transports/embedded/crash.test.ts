import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { embedded } from './index.ts';

const writerScript = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
/** Rounds with fsync 'always', then rounds with 'batch' (group commit): the guarantee is the same. */
const ROUNDS_ALWAYS = 20;
const ROUNDS = ROUNDS_ALWAYS + 2;

/** Runs the writer, kills it with SIGKILL at a random moment after it started writing, returns the acked ids. */
function runWriterUntilKilled(dir: string, round: number): Promise<Set<string>> {
  return new Promise((resolve, reject) => {
    const fsync = round < ROUNDS_ALWAYS ? 'always' : 'batch';
    const child = spawn(process.execPath, [writerScript, dir, String(round), fsync], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked = new Set<string>();
    let out = '';
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), 20 + Math.floor(Math.random() * 150));
        const m = /^acked (\d+) (\d+)$/.exec(line);
        if (m) for (let i = 0; i < Number(m[2]); i++) acked.add(`${round}-${Number(m[1]) + i}`);
      }
    });
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`writer exited with ${code}/${signal} before it was killed: ${err}`));
    });
  });
}

describe('embedded log after kill -9', () => {
  it(
    `keeps every resolved publish exactly once and in order per partition, over ${ROUNDS_ALWAYS} SIGKILLs of an fsync 'always' writer (and ${ROUNDS - ROUNDS_ALWAYS} of a 'batch' one), and takes new writes after each`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sy-crash-'));
      const allAcked = new Set<string>();
      let totalRead = 0;
      for (let round = 0; round < ROUNDS; round++) {
        for (const id of await runWriterUntilKilled(dir, round)) allAcked.add(id);

        const bus = embedded({ dir, share: false });
        await bus.connect();
        expect(bus.role).toBe('owner'); // took over from the dead writer
        const inbox = new Inbox();
        await bus.subscribe('crash.test', { group: `verify-${round}`, from: 'earliest', concurrency: 1 }, async (m) => inbox.push(m));
        const info = (await bus.inspect()).find((t) => t.topic === 'crash.test')!;
        const end = info.partitions.reduce((n, p) => n + p.endOffset, 0);
        await inbox.untilCount(end, 20_000);

        const counts = new Map<string, number>();
        for (const m of inbox.messages) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
        const missing = [...allAcked].filter((id) => !counts.has(id));
        expect(missing, `round ${round}: resolved publishes missing after recovery`).toEqual([]);
        const duplicated = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
        expect(duplicated, `round ${round}: duplicated records`).toEqual([]);
        // In order per partition: offsets dense from 0, and each writer's sequence increasing per key.
        for (const p of info.partitions) {
          const inPartition = inbox.messages.filter((m) => m.partition === p.partition).map((m) => Number(m.offset));
          expect(inPartition).toEqual(Array.from({ length: p.endOffset }, (_, i) => i));
        }
        const lastSeq = new Map<string, number>();
        for (const m of inbox.messages) {
          const [r, s] = m.id.split('-').map(Number) as [number, number];
          if (m.id.startsWith('after-')) continue;
          const order = r * 1e9 + s;
          expect(order, `order of key ${m.key}`).toBeGreaterThan(lastSeq.get(m.key) ?? -1);
          lastSeq.set(m.key, order);
        }
        // The log accepts new writes after recovery.
        await bus.publish('crash.test', { id: `after-${round}`, key: 'after', payload: Buffer.from('x') });
        await inbox.until(() => inbox.ids().has(`after-${round}`), 10_000, () => `after-${round}`);
        totalRead = inbox.messages.length;
        await bus.close();
      }
      expect(allAcked.size).toBeGreaterThan(ROUNDS); // the writer got real work done
      expect(totalRead).toBeGreaterThanOrEqual(allAcked.size + ROUNDS);
    },
    // ~20 s on an idle 2-core machine (the 22 writer start-ups dominate); generous for loaded CI.
    180_000,
  );
});
