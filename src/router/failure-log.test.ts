import { describe, expect, it } from 'vitest';
import { FailureLog } from './failure-log.ts';

describe('FailureLog', () => {
  it('lets perWindow lines through per window, then says how many went unlogged on the next line', () => {
    const log = new FailureLog(3, 10_000);
    const at = (now: number, times: number): Array<string | undefined> => Array.from({ length: times }, () => log.admit(now));
    expect(at(0, 5)).toEqual(['', '', '', undefined, undefined]);
    expect(at(9_999, 1)).toEqual([undefined]);
    expect(at(10_000, 3)).toEqual([' (3 more failures of this handler not logged: at most 3 lines per 10 s)', '', '']);
    expect(at(10_001, 1)).toEqual([undefined]);
    expect(at(20_000, 1)).toEqual([' (1 more failure of this handler not logged: at most 3 lines per 10 s)']);
  });
});
