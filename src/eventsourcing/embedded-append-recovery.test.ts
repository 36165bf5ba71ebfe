import { describe, expect, it } from 'vitest';
import { AppendRecovery, appendMarkOf } from './embedded-append-recovery.ts';

describe('appendMarkOf', () => {
  it('reads index and count from the end of a marked envelope', () => {
    expect(appendMarkOf(JSON.stringify(['A', 1, 7, 'application/json', { correlationId: 'c,1,2]' }, 2, 13]))).toEqual({ index: 2, count: 13 });
    expect(appendMarkOf(JSON.stringify(['A', 1, 1, 'application/json', {}, 0, 1]))).toEqual({ index: 0, count: 1 });
  });

  it('finds no mark in an envelope written before appends were marked, or in one it cannot read', () => {
    expect(appendMarkOf(JSON.stringify(['A', 1, 7, 'application/json', { n: '1' }]))).toBeUndefined();
    expect(appendMarkOf(JSON.stringify(['A', 1, 7, 'application/json', null]))).toBeUndefined();
    expect(appendMarkOf(undefined)).toBeUndefined();
    expect(appendMarkOf('')).toBeUndefined();
    expect(appendMarkOf(',3]')).toBeUndefined();
  });
});

describe('AppendRecovery', () => {
  it('passes on complete appends and keeps back one cut short, in the middle or at the end', () => {
    const shown: Array<[string, number]> = [];
    const recovery = new AppendRecovery((stream, offset) => shown.push([stream, offset]));
    recovery.add('s-1', 0, undefined); // written before appends were marked
    recovery.add('s-1', 1, { index: 0, count: 2 });
    recovery.add('s-1', 2, { index: 1, count: 2 });
    recovery.add('s-2', 3, { index: 0, count: 3 }); // cut short: the next append starts after 2 of 3
    recovery.add('s-2', 4, { index: 1, count: 3 });
    recovery.add('s-2', 5, { index: 0, count: 1 });
    recovery.add('s-3', 6, { index: 1, count: 2 }); // its first record missing
    recovery.add('s-1', 7, { index: 0, count: 2 }); // cut short at the end
    recovery.finish();
    expect(shown).toEqual([['s-1', 0], ['s-1', 1], ['s-1', 2], ['s-2', 5]]);
    expect(recovery.incomplete).toEqual([
      { streamId: 's-2', count: 3, offsets: [3, 4] },
      { streamId: 's-3', count: 2, offsets: [6] },
      { streamId: 's-1', count: 2, offsets: [7] },
    ]);
  });
});
