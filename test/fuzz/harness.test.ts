import { describe, expect, it } from 'vitest';
import { targets } from './fixtures/misbehaving-targets.ts';
import { describeFailure, fuzzSettings, runTarget } from './harness.ts';
import { rngFor } from './prng.ts';

const source = { module: new URL('./fixtures/misbehaving-targets.ts', import.meta.url), targets };

describe('the fuzz harness', () => {
  it('regenerates the same input from seed, target and iteration, and different ones otherwise', () => {
    const a = rngFor(42, 'json codec', 7).bytes(32);
    expect(rngFor(42, 'json codec', 7).bytes(32)).toEqual(a);
    expect(rngFor(42, 'json codec', 8).bytes(32)).not.toEqual(a);
    expect(rngFor(43, 'json codec', 7).bytes(32)).not.toEqual(a);
    expect(rngFor(42, 'protobuf codec', 7).bytes(32)).not.toEqual(a);
  });

  it('reads its settings from the environment and rejects nonsense', () => {
    expect(fuzzSettings({ SWITCHYARD_FUZZ_SEED: '5', SWITCHYARD_FUZZ_MS: '100', SWITCHYARD_FUZZ_DEADLINE_MS: '50', SWITCHYARD_FUZZ_ITERATION: '9' })).toEqual({ seed: 5, budgetMs: 100, deadlineMs: 50, only: 9 });
    expect(fuzzSettings({}).budgetMs).toBe(3_000);
    expect(() => fuzzSettings({ SWITCHYARD_FUZZ_MS: 'soon' })).toThrow(/SWITCHYARD_FUZZ_MS must be a whole number/);
  });

  it('runs a well-behaved target for its time budget', async () => {
    const report = await runTarget('counter', { seed: 1, budgetMs: 200, deadlineMs: 1_000, only: undefined }, source);
    expect(report).toMatchObject({ ok: true, target: 'counter', seed: 1 });
    expect(report.iterations).toBeGreaterThan(10);
  });

  it('stops a target that hangs and names the input that hung, with the command to replay it', async () => {
    const report = await runTarget('hangs on input 3', { seed: 9, budgetMs: 10_000, deadlineMs: 300, only: undefined }, source);
    expect(report.ok).toBe(false);
    if (report.ok) return;
    expect(report.iteration).toBe(3);
    expect(report.problem).toMatch(/^hung: one input ran for more than 1300 ms/);
    expect(report.input).toBe(`n=${rngFor(9, 'hangs on input 3', 3).int(10)}`);
    expect(describeFailure(report)).toMatch(/replay: SWITCHYARD_FUZZ_SEED=9 SWITCHYARD_FUZZ_ITERATION=3 /);
  });

  it('reports the first finding with its input', async () => {
    const report = await runTarget('finds a problem above 5', { seed: 3, budgetMs: 5_000, deadlineMs: 1_000, only: undefined }, source);
    expect(report.ok).toBe(false);
    if (report.ok) return;
    expect(report.problem).toMatch(/^threw TypeError/);
    expect(Number(report.input.slice(2))).toBeGreaterThan(5);
    const again = await runTarget('finds a problem above 5', { seed: 3, budgetMs: 5_000, deadlineMs: 1_000, only: report.iteration }, source);
    expect(again).toMatchObject({ ok: false, iteration: report.iteration, input: report.input });
  });
});
