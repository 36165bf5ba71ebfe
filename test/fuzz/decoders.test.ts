// Fuzzes every decoder that reads outside bytes (see targets.ts) for a bounded time: by default
// 3 s per target in CI; `npm run fuzz` runs the long mode (SWITCHYARD_FUZZ_MS per target).
// The seed is printed; SWITCHYARD_FUZZ_SEED (and SWITCHYARD_FUZZ_ITERATION) replay a failure.
import { describe, expect, it } from 'vitest';
import { describeFailure, fuzzSettings, runTarget } from './harness.ts';
import { targets } from './targets.ts';

const settings = fuzzSettings();
console.log(
  `fuzz: seed ${settings.seed}, ${settings.budgetMs} ms per target, ${settings.deadlineMs} ms per input ` +
    `(replay with SWITCHYARD_FUZZ_SEED=${settings.seed})`,
);

describe('decoders survive random and mutated input: a value or a clear Switchyard error, never a crash or a hang', () => {
  for (const target of targets) {
    it(target.name, async () => {
      const report = await runTarget(target.name, settings);
      if (!report.ok) expect.fail(describeFailure(report));
      console.log(`fuzz: ${target.name}: ${report.iterations} inputs`);
      expect(report.iterations).toBeGreaterThan(0);
    }, settings.budgetMs + settings.deadlineMs + 60_000);
  }
});
