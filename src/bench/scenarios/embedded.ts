import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embedded, type FsyncMode } from '../../transports/embedded/index.ts';
import { rawAppend } from '../floor.ts';
import { timed } from '../stats.ts';
import type { BenchCase, Scenario } from '../types.ts';
import { consumeAll, publishAll, transportLatency, type FixedRateOptions } from '../workloads.ts';

const BATCH = 1_000;

let topics = 0;

/** A second process that owns the directory, so this one talks to the broker over its socket. */
async function startOwner(dir: string, fsync: FsyncMode): Promise<ChildProcess> {
  // Beside this file: embedded-owner.ts when run from the sources, .js from dist/.
  const script = fileURLToPath(new URL(`../embedded-owner.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
  const child = spawn(process.execPath, [script, dir, fsync], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`embedded owner exited with code ${code}`)));
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
  });
  return child;
}

function stopOwner(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.stdin!.end();
  });
}

/** One fresh data directory per round: what is measured never reads a warm log. */
function fresh(): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-bench-embedded-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

function publishCase(mode: FsyncMode, size: number, count: number, remote: boolean): BenchCase {
  const payload = randomBytes(size);
  return {
    name: `publish ${size} B, fsync ${mode}${remote ? ', from a second process' : ', in-process'}`,
    unit: 'msgs/s',
    ours: {
      name: 'embedded',
      run: async () => {
        const { dir, done } = fresh();
        const owner = remote ? await startOwner(dir, mode) : undefined;
        const bus = embedded({ dir, fsync: mode, partitions: 1 });
        await bus.connect();
        try {
          const topic = `bench.publish.${++topics}`;
          return await timed(async () => {
            await publishAll(bus, topic, count, payload, BATCH);
            return count;
          });
        } finally {
          await bus.close();
          if (owner) await stopOwner(owner);
          done();
        }
      },
    },
    // The floor: the same records in the same batch sizes, plain writes, one fsync per batch.
    baseline: { name: 'raw disk', run: () => rawAppend({ recordSize: size, records: count, batch: BATCH, fsync: mode !== 'never' }) },
    target:
      mode === 'batch' && !remote && size === 256
        ? { ratio: 0.5, label: '≥ 0.5× the raw fsync’d append' }
        : undefined,
    minimum: mode === 'batch' && remote && size === 256 ? { min: 200_000, label: '≥ 200 k msgs/s from a second process' } : undefined,
  };
}

function consumeCase(size: number, count: number, remote: boolean): BenchCase {
  const payload = randomBytes(size);
  return {
    name: `consume ${size} B from page cache${remote ? ', from a second process' : ', in-process'}`,
    unit: 'msgs/s',
    minimum: !remote && size === 256 ? { min: 1_000_000, label: '≥ 1 M msgs/s in-process' } : undefined,
    ours: {
      name: 'embedded',
      run: async () => {
        const { dir, done } = fresh();
        const owner = remote ? await startOwner(dir, 'never') : undefined;
        const bus = embedded({ dir, fsync: 'never', partitions: 1 });
        await bus.connect();
        try {
          const topic = `bench.consume.${++topics}`;
          await publishAll(bus, topic, count, payload, BATCH);
          return await consumeAll(bus, topic, count, { group: `bench-${topics}` });
        } finally {
          await bus.close();
          if (owner) await stopOwner(owner);
          done();
        }
      },
    },
  };
}

function latencyCase(mode: FsyncMode, fixed: FixedRateOptions): BenchCase {
  return {
    name: `end to end at ${fixed.rate.toLocaleString('en-US')} msgs/s, ${fixed.size} B, fsync ${mode}, in-process`,
    unit: 'msgs/s',
    ours: {
      name: 'embedded',
      run: async () => {
        const { dir, done } = fresh();
        const bus = embedded({ dir, fsync: mode, partitions: 1 });
        await bus.connect();
        try {
          return await transportLatency(bus, 'bench.latency', fixed);
        } finally {
          await bus.close();
          done();
        }
      },
    },
  };
}

/**
 * The embedded broker against the physical floor of this disk: publish in each fsync mode,
 * in-process and through the owner's socket from a second process, and consume; and end-to-end
 * latency (publish → handler) at a fixed rate in each fsync mode.
 */
export const embeddedScenario: Scenario = {
  name: 'embedded',
  title: 'Embedded broker: publish per fsync mode and consume, against the raw disk floor',
  async cases(ctx) {
    const count = ctx.quick ? 20_000 : 200_000;
    const cases: BenchCase[] = [];
    for (const size of [256, 4096]) {
      const n = size === 256 ? count : count / 4;
      for (const mode of ['batch', 'always', 'never'] as const) cases.push(publishCase(mode, size, n, false));
      cases.push(publishCase('batch', size, n, true));
      cases.push(consumeCase(size, n, false));
      cases.push(consumeCase(size, n, true));
    }
    const seconds = ctx.quick ? 1 : 5;
    for (const size of [256, 4096]) {
      for (const mode of ['batch', 'always', 'never'] as const) cases.push(latencyCase(mode, { rate: 2_000, seconds, size }));
    }
    return cases;
  },
};
