import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GroupOffsets } from './group-state.ts';

const fresh = (): string => join(mkdtempSync(join(tmpdir(), 'sy-offsets-')), 'groups.jsonl');

describe('GroupOffsets', () => {
  it('flushSoon() writes at once and syncs off the event loop; a reopen reads the last position of each', () => {
    const path = fresh();
    const offsets = new GroupOffsets(path, true);
    for (let o = 1; o <= 300; o++) {
      offsets.set('orders', 'billing', o % 3, o);
      offsets.flushSoon(); // many while a sync runs: they join the next one
    }
    expect(readFileSync(path, 'utf8').trim().split('\n').length).toBeGreaterThanOrEqual(300);
    offsets.close(); // syncs what is left; a sync still running finds the file closed and does nothing
    const reopened = new GroupOffsets(path, true);
    expect([0, 1, 2].map((p) => reopened.get('orders', 'billing', p))).toEqual([300, 298, 299]);
    reopened.close();
  });
});
