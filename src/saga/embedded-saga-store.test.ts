import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { isConcurrencyError, isConfigError } from '../core/errors.ts';
import { describeSagaStore } from '../testing/describe-saga-store.ts';
import { embedded } from '../transports/embedded/index.ts';
import { defineSaga } from './definition.ts';
import { embeddedSagaStore } from './embedded-saga-store.ts';
import { SagaOrchestrator } from './orchestrator.ts';
import type { NewSagaRecord } from './saga-store.ts';

const root = mkdtempSync(join(tmpdir(), 'sy-saga-'));
let n = 0;
const dir = (): string => join(root, `s${++n}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describeSagaStore('embedded', () => embeddedSagaStore({ dir: dir() }));
const bus = embedded({ dir: dir(), share: false });
describeSagaStore('embedded (on a transport topic)', () => embeddedSagaStore({ transport: bus }), { cleanup: () => bus.close() });

const init = (id: string, extra: Partial<NewSagaRecord> = {}): NewSagaRecord => ({ id, saga: 'disk', status: 'initiated', input: { id }, step: 0, history: [], ...extra });
const writerScript = fileURLToPath(new URL('./embedded-saga-store.child.ts', import.meta.url));

/** Runs the writer until it has resolved some writes, kills it with SIGKILL; returns the last resolved version per id. */
function writeUntilKilled(at: string, round: number, fsync: string): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writerScript, at, String(round), fsync], { stdio: ['ignore', 'pipe', 'pipe'] });
    const resolved = new Map<string, number>();
    let out = '';
    let err = '';
    let killAt = 30 + Math.floor(Math.random() * 300);
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      let nl: number;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const m = /^ok (\S+) (\d+)$/.exec(line);
        if (!m) continue;
        resolved.set(m[1]!, Math.max(resolved.get(m[1]!) ?? 0, Number(m[2])));
        if (--killAt === 0) child.kill('SIGKILL');
      }
    });
    child.once('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(resolved);
      else reject(new Error(`writer exited with ${code}/${signal} before it was killed: ${err}`));
    });
  });
}

describe('embedded saga store on disk', () => {
  it('reopens the same directory with every instance, version, history and lease as written', async () => {
    const at = dir();
    const first = embeddedSagaStore({ dir: at });
    const a = await first.create(init('a'), { owner: 'A', ms: 60_000 });
    const a2 = await first.update({ ...a, status: 'in_progress', step: 1, history: [{ step: 'reserve', index: 0, kind: 'action', outcome: 'completed', attempts: 1, at: 5, output: { r: 1 } }] }, { owner: 'A', ms: 60_000 });
    const b = await first.create(init('b', { status: 'completed' }));
    await first.close();

    const second = embeddedSagaStore({ dir: at });
    expect(await second.get('a')).toEqual(a2);
    expect(await second.get('b')).toEqual(b);
    expect((await second.list()).map((r) => r.id)).toEqual(['b', 'a']);
    // Versions continue: a stale write still fails, the current one succeeds; the lease is still A's.
    expect(isConcurrencyError(await second.update({ ...a, step: 9 }).catch((e: unknown) => e))).toBe(true);
    expect(await second.acquire('a', { owner: 'B', ms: 1_000 })).toBeUndefined();
    const a3 = await second.update({ ...a2, step: 2 });
    expect(a3.version).toBe(3);
    await second.close();

    const third = embeddedSagaStore({ dir: at });
    expect(await third.get('a')).toEqual(a3);
    await third.close();
  });

  it('an orchestrator on a reopened store resumes the saga where the previous process left it', async () => {
    const at = dir();
    const calls: string[] = [];
    const gate = Promise.withResolvers<void>();
    const started = Promise.withResolvers<void>();
    const saga = defineSaga<number>('resume')
      .step({
        name: 'one',
        action: async (n) => {
          calls.push('one');
          started.resolve();
          await gate.promise;
          return n + 1;
        },
      })
      .step({ name: 'two', action: async (n) => (calls.push('two'), n + 1) })
      .build();
    const quiet = { warn: () => {}, error: () => {} };
    const firstStore = embeddedSagaStore({ dir: at });
    const first = new SagaOrchestrator({ store: firstStore, sagas: [saga], logger: quiet, recoveryIntervalMs: 0, owner: 'first' });
    await first.begin(saga, 1, { id: 'resume-1' });
    await started.promise;
    const closing = first.close();
    gate.resolve();
    await closing;
    await firstStore.close();

    const store = embeddedSagaStore({ dir: at });
    expect(await store.get('resume-1')).toMatchObject({ status: 'in_progress', step: 1 });
    const second = new SagaOrchestrator({ store, sagas: [saga], logger: quiet, recoveryIntervalMs: 0, owner: 'second' });
    const settled = second.settled('resume-1');
    await second.start();
    const record = await settled;
    expect(record.status).toBe('completed');
    expect(record.history.map((h) => h.output)).toEqual([2, 3]);
    expect(calls).toEqual(['one', 'two']);
    await second.close();
    expect((await store.get('resume-1'))!.status).toBe('completed');
    await store.close();
  });

  it('compaction keeps only the latest state of each instance, and reopening reads it back', async () => {
    const at = dir();
    const store = embeddedSagaStore({ dir: at, segmentBytes: 4096, fsync: 'never', compactionIntervalMs: 0 });
    let r = await store.create(init('x'));
    for (let i = 0; i < 200; i++) r = await store.update({ ...r, step: i, input: { pad: 'p'.repeat(100) } });
    await store.create(init('y'));
    expect(await store.compact()).toBeGreaterThan(0);
    await store.close();
    const reopened = embeddedSagaStore({ dir: at, compactionIntervalMs: 0 });
    expect(await reopened.get('x')).toEqual(r);
    expect((await reopened.get('y'))?.version).toBe(1);
    await reopened.close();
  });

  // Regression: reads showed only durable writes, and did not wait for one being made durable.
  // A writer that lost a compare-and-set read the state before the winning write and lost again
  // on every try: a state machine with two messages of one instance in flight failed them both
  // (ConcurrencyError after 20 tries) until the transport redelivered them.
  it('a writer that lost a compare-and-set reads the write that beat it, also while that write is still being made durable', async () => {
    const store = embeddedSagaStore({ dir: dir(), fsync: 'always' });
    const v1 = await store.create(init('contended'));
    const winning = store.update({ ...v1, status: 'in_progress', step: 1 });
    const lost = await store.update({ ...v1, status: 'in_progress', step: 2 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isConcurrencyError(lost)).toBe(true);
    const reread = await store.get('contended');
    expect(reread).toMatchObject({ version: 2, step: 1 });
    expect(await store.update({ ...reread!, step: 3 })).toMatchObject({ version: 3, step: 3 });
    expect((await winning).version).toBe(2);
    await store.close();
  });

  it('has one owner: a second store on the directory is refused with a ConfigError naming the problem', async () => {
    const at = dir();
    const owner = embeddedSagaStore({ dir: at });
    let error: unknown;
    try {
      embeddedSagaStore({ dir: at });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatch(/one owner process/);
    await owner.close();
    const bad = (() => {
      try {
        embeddedSagaStore({} as never);
      } catch (e) {
        return e;
      }
    })();
    expect((bad as Error).message).toMatch(/either dir .* or transport/);
  });

  it(
    'keeps every resolved write over SIGKILLs of a writer process (fsync batch and always)',
    async () => {
      const at = dir();
      const expected = new Map<string, number>();
      for (let round = 0; round < 6; round++) {
        for (const [id, version] of await writeUntilKilled(at, round, round % 2 === 0 ? 'batch' : 'always')) expected.set(id, version);
        const store = embeddedSagaStore({ dir: at });
        const missing: string[] = [];
        for (const [id, version] of expected) {
          const r = await store.get(id);
          if (!r || r.version < version) missing.push(`${id}@${version}: ${r ? `found version ${r.version}` : 'missing'}`);
          else if (r.version > 1) expect(r.history).toHaveLength(r.version - 1);
        }
        expect(missing, `round ${round}: resolved writes lost`).toEqual([]);
        // The store takes new writes after recovery.
        const created = await store.create(init(`after-${round}`));
        expect(created.version).toBe(1);
        await store.close();
      }
      expect(expected.size).toBeGreaterThan(6);
    },
    120_000,
  );
});
