import { describe, expect, it } from 'vitest';
import { TIMED_PER_SECOND, Timing } from './timing.ts';

describe('Timing', () => {
  it('times every delivery up to 1,000 a second and about 1,000 a second above, retuned every 100 ms', () => {
    const t = new Timing(1);
    t.retune(0, 10_000);
    expect(t.stride).toBe(1);
    t.retune(900, 11_000); // 900/s
    expect(t.stride).toBe(1);
    t.retune(900 + 50_000, 12_000); // 50,000/s → one in 50
    expect(t.stride).toBe(50_000 / TIMED_PER_SECOND);
    t.retune(900 + 50_500, 12_050); // less than 100 ms later and fewer than 1,024 deliveries: unchanged
    expect(t.stride).toBe(50);
    t.retune(900 + 90_000, 12_050); // 50 ms that saw 40,000: a window of its own → 800,000/s
    expect(t.stride).toBe(800);
    t.retune(900 + 92_000, 12_055); // 5 ms: too short a window, however many
    expect(t.stride).toBe(800);
    t.retune(900 + 90_000 + 10, 14_050); // 10 in 2 s → every delivery again
    expect(t.stride).toBe(1);
  });

  it('looks at the real clock every 1,024 deliveries when the coarse clock stands still (a burst on microtasks alone)', () => {
    const t = new Timing(1);
    let real = 50_000;
    let looked = 0;
    const clock = (): number => (looked++, real);
    const coarse = 50_000; // frozen
    t.maybeRetune(1, coarse, clock); // first delivery: looks once
    for (let n = 2; n <= 1_024; n++) t.maybeRetune(n, coarse, clock);
    expect(looked).toBe(1);
    real += 200; // 200 ms of a 1,000,000/s burst
    t.maybeRetune(200_001, coarse, clock);
    expect(looked).toBe(2);
    expect(t.stride).toBe(1_000);
  });
});
