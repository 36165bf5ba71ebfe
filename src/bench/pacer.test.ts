import { describe, expect, it } from 'vitest';
import { dueBy, pace, stamped, stampOf, type PacerClock } from './pacer.ts';

/** A clock that only moves when the pacer sleeps; `late` adds extra ms to chosen sleeps. */
function fakeClock(late: Record<number, number> = {}): PacerClock & { sleeps: number } {
  let now = 0;
  const clock = {
    sleeps: 0,
    now: () => now,
    sleep: async (ms: number) => {
      now += ms + (late[clock.sleeps] ?? 0);
      clock.sleeps++;
    },
  };
  return clock;
}

describe('dueBy', () => {
  it('counts the messages a fixed rate has due after a given time', () => {
    expect(dueBy(0, 2_000)).toBe(0);
    expect(dueBy(1, 2_000)).toBe(2);
    expect(dueBy(1_000, 2_000)).toBe(2_000);
    expect(dueBy(3, 500)).toBe(1);
  });
});

describe('pace', () => {
  it('hands over exactly `total` messages, the rate × tick each tick', async () => {
    const clock = fakeClock();
    const handed: number[] = [];
    await pace({ rate: 2_000, total: 100, tickMs: 1, clock }, (n) => handed.push(n));
    expect(handed.reduce((a, b) => a + b, 0)).toBe(100);
    expect(new Set(handed)).toEqual(new Set([2]));
    expect(clock.now()).toBe(50);
  });

  it('catches up after a late tick in one burst and stays on schedule', async () => {
    const clock = fakeClock({ 3: 10 }); // the fourth sleep lasts 11 ms instead of 1
    const handed: number[] = [];
    await pace({ rate: 1_000, total: 30, tickMs: 1, clock }, (n) => handed.push(n));
    expect(handed.slice(0, 5)).toEqual([1, 1, 1, 11, 1]);
    expect(handed.reduce((a, b) => a + b, 0)).toBe(30);
    expect(clock.now()).toBe(30);
  });

  it('never hands over more than the total, even when the last tick is late', async () => {
    const clock = fakeClock({ 0: 100 });
    const handed: number[] = [];
    await pace({ rate: 1_000, total: 5, clock }, (n) => handed.push(n));
    expect(handed).toEqual([5]);
  });
});

describe('stamped payloads', () => {
  it('carry their send time in the first 8 bytes and keep the requested size', () => {
    const p = stamped(256, 1234.5678);
    expect(p.length).toBe(256);
    expect(stampOf(p)).toBe(1234.5678);
    expect(stampOf(new Uint8Array(p))).toBe(1234.5678);
  });

  it('are never shorter than the stamp', () => {
    expect(stamped(2, 1).length).toBe(8);
  });
});
