import { describe, expect, it } from 'vitest';
import { runBench } from './runner.ts';
import type { BenchCase, Scenario } from './types.ts';

const quiet = (): void => undefined;

describe('runBench', () => {
  it('releases what every case of the scenario holds when one case fails, then reports the failure', async () => {
    const closed: string[] = [];
    const bench = (name: string, run: () => Promise<never> | Promise<{ ops: number; seconds: number }>): BenchCase => ({
      name,
      unit: 'msgs/s',
      warmup: false,
      ours: { name: 'ours', run },
      close: async () => void closed.push(name),
    });
    const scenario: Scenario = {
      name: 'failing',
      title: 'a scenario whose second case fails',
      cases: async () => [
        bench('first', async () => ({ ops: 1, seconds: 1 })),
        bench('second', () => Promise.reject(new Error('the broker went away'))),
        // Set up by the scenario before any case ran (a schema, a pool): must not be left behind.
        bench('third', async () => ({ ops: 1, seconds: 1 })),
        bench('fourth', async () => ({ ops: 1, seconds: 1 })),
      ],
    };
    await expect(runBench([scenario], { quick: true, rounds: 1, log: quiet })).rejects.toThrow('the broker went away');
    expect(closed.toSorted()).toEqual(['first', 'fourth', 'second', 'third']);
  });
});
