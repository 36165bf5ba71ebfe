import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { describeStore } from '../../testing/describe-store.ts';
import { embedded } from '../../transports/embedded/index.ts';
import { embeddedIdempotencyStore } from './embedded.ts';
import { describeRenew } from './renew-suite.test-support.ts';

const root = mkdtempSync(join(tmpdir(), 'sy-idem-'));
let n = 0;
const dir = (): string => join(root, `s${++n}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const long = { leaseMs: 30_000, ttlMs: 60_000 };

describeStore('embedded', () => embeddedIdempotencyStore({ dir: dir() }));
describeRenew('embedded', () => embeddedIdempotencyStore({ dir: dir() }));
const bus = embedded({ dir: dir(), share: false });
// describeStore makes one store per case: one topic each, on one broker.
let topics = 0;
describeStore('embedded (on a transport topic)', () => embeddedIdempotencyStore({ transport: bus, topic: `idem.${++topics}` }), { cleanup: () => bus.close() });

const childScript = fileURLToPath(new URL('./embedded.child.ts', import.meta.url));

/** Runs the writer until it has completed some keys, kills it with SIGKILL; returns the keys whose complete() resolved. */
function completeUntilKilled(at: string, round: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, at, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done: string[] = [];
    let out = '';
    let err = '';
    const killAt = 20 + Math.floor(Math.random() * 300);
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line.startsWith('done ')) done.push(line.slice(5));
        if (done.length === killAt) child.kill('SIGKILL');
      }
    });
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(done);
      else reject(new Error(`writer exited with ${code}/${signal} before it was killed: ${err}`));
    });
  });
}

describe('embedded idempotency store on disk', () => {
  it('remembers processed keys across a restart; claims in flight and released keys are not kept', async () => {
    const at = dir();
    const first = embeddedIdempotencyStore({ dir: at });
    const a = await first.claim('a', long);
    if (a.status === 'claimed') await a.complete();
    const b = await first.claim('b', long);
    if (b.status === 'claimed') await b.release();
    expect((await first.claim('c', long)).status).toBe('claimed'); // never completed: its holder "dies"
    await first.close();

    const second = embeddedIdempotencyStore({ dir: at });
    expect((await second.claim('a', long)).status).toBe('processed');
    expect((await second.claim('b', long)).status).toBe('claimed');
    expect((await second.claim('c', long)).status).toBe('claimed');
    await second.close();
  });

  it('expires marks by its clock, also for marks read back on open', async () => {
    let now = 1_000;
    const at = dir();
    const first = embeddedIdempotencyStore({ dir: at, now: () => now });
    for (const [key, ttlMs] of [['short', 100], ['long', 10_000]] as const) {
      const c = await first.claim(key, { leaseMs: 10, ttlMs });
      if (c.status === 'claimed') await c.complete();
    }
    now += 99;
    expect((await first.claim('short', long)).status).toBe('processed');
    await first.close();
    now += 2;
    const second = embeddedIdempotencyStore({ dir: at, now: () => now });
    expect((await second.claim('long', long)).status).toBe('processed');
    expect((await second.claim('short', long)).status).toBe('claimed');
    await second.close();
  });

  it('forgets the oldest processed keys beyond maxKeys, and compaction removes forgotten and expired marks from disk', async () => {
    let now = 1_000;
    const at = dir();
    const store = embeddedIdempotencyStore({ dir: at, maxKeys: 3, segmentBytes: 4096, fsync: 'never', compactionIntervalMs: 0, now: () => now });
    for (let i = 0; i < 200; i++) {
      const c = await store.claim(`k${i}`, { leaseMs: 1_000, ttlMs: i < 100 ? 50 : 60_000 });
      if (c.status === 'claimed') await c.complete();
    }
    expect((await store.claim('k199', long)).status).toBe('processed');
    expect((await store.claim('k197', long)).status).toBe('processed');
    expect((await store.claim('k150', long)).status).toBe('claimed');
    now += 100;
    expect(await store.compact()).toBeGreaterThan(0);
    await store.close();
    const reopened = embeddedIdempotencyStore({ dir: at, maxKeys: 3, now: () => now });
    expect((await reopened.claim('k199', long)).status).toBe('processed');
    expect((await reopened.claim('k10', long)).status).toBe('claimed');
    await reopened.close();
  });

  it('has one owner: a second store on the directory is refused with a ConfigError', async () => {
    const at = dir();
    const owner = embeddedIdempotencyStore({ dir: at });
    let error: unknown;
    try {
      embeddedIdempotencyStore({ dir: at });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    await owner.close();
  });

  it(
    'keeps every resolved complete() over SIGKILLs of a writer process',
    async () => {
      const at = dir();
      const all: string[] = [];
      for (let round = 0; round < 4; round++) {
        all.push(...(await completeUntilKilled(at, round)));
        const store = embeddedIdempotencyStore({ dir: at });
        const lost: string[] = [];
        for (const key of all) if ((await store.claim(key, long)).status !== 'processed') lost.push(key);
        expect(lost, `round ${round}: completed keys forgotten`).toEqual([]);
        await store.close();
      }
      expect(all.length).toBeGreaterThan(4);
    },
    120_000,
  );
});
