import { describe, expect, it } from 'vitest';
import { costPerOp } from './report.ts';

const side = (median: number) => ({ variant: 'x', median, min: median, max: median });

describe('costPerOp', () => {
  it('gives the time added per operation from the two medians', () => {
    // 400 k/s vs 1 M/s: 2.5 µs against 1 µs a message.
    expect(costPerOp({ unit: 'msgs/s', ours: side(400_000), baseline: side(1_000_000) })).toBe(' (+1.50 µs/msg)');
    expect(costPerOp({ unit: 'records/s', ours: side(10_000), baseline: side(12_500) })).toBe(' (+20 µs/record)');
  });

  it('says what is saved when Switchyard is faster, and switches to ms for slow operations', () => {
    expect(costPerOp({ unit: 'msgs/s', ours: side(1_250_000), baseline: side(1_000_000) })).toBe(' (-0.20 µs/msg)');
    expect(costPerOp({ unit: 'sagas/s', ours: side(100), baseline: side(200) })).toBe(' (+5.0 ms/saga)');
  });

  it('stays silent without a baseline, for non-rate units and for empty medians', () => {
    expect(costPerOp({ unit: 'msgs/s', ours: side(1) })).toBe('');
    expect(costPerOp({ unit: 'MiB', ours: side(10), baseline: side(12) })).toBe('');
    expect(costPerOp({ unit: 'msgs/s', ours: side(0), baseline: side(12) })).toBe('');
  });
});
