import { describe, expect, it } from 'vitest';
import { CLAIMED, KeyTable, PROCESSED } from './key-table.ts';

/** A seeded generator, so a failure replays. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('KeyTable', () => {
  it('agrees with a Map through adds, removals, evictions and growth', () => {
    const capacity = 3_000; // grows 1,024 → 2,048 → 3,000, then evicts
    const table = new KeyTable(capacity);
    const model = new Map<string, number>(); // key → slot
    const next = random(7);
    const keys = Array.from({ length: 6_000 }, (_, i) => `group:${i}:${(next() * 1e9) | 0}`);
    const live = new Set<number>();
    const keyIn: Array<string | undefined> = []; // slot → key
    for (let step = 0; step < 40_000; step++) {
      const key = keys[(next() * keys.length) | 0]!;
      const slot = table.lookup(key);
      expect(slot).toBe(model.get(key) ?? -1);
      if (slot >= 0) {
        if (next() < 0.3 && !live.has(slot)) {
          table.remove(slot);
          model.delete(key);
          keyIn[slot] = undefined;
        }
        continue;
      }
      // A few claims in force, which eviction must skip; the rest processed.
      const claim = next() < 0.01;
      const added = table.add(0, claim ? CLAIMED : PROCESSED);
      expect(added).toBeGreaterThanOrEqual(0);
      // The key that lived in this slot (if any) was evicted.
      const evicted = keyIn[added];
      if (evicted !== undefined) model.delete(evicted);
      model.set(key, added);
      keyIn[added] = key;
      table.until[added] = claim ? 1 : 0;
      if (claim) live.add(added);
    }
    expect(model.size).toBeLessThanOrEqual(capacity);
    for (const [key, slot] of model) expect(table.lookup(key)).toBe(slot);
    for (const slot of live) expect(table.state[slot]).toBe(CLAIMED);
  });

  it('never evicts a claim in force, and says so when every slot holds one', () => {
    const table = new KeyTable(4);
    for (const key of ['a', 'b', 'c', 'd']) {
      expect(table.lookup(key)).toBe(-1);
      table.until[table.add(0, CLAIMED)] = 100;
    }
    expect(table.lookup('e')).toBe(-1);
    expect(table.add(50, CLAIMED)).toBe(-1); // all four claims hold until 100
    const slot = table.add(100, PROCESSED); // at 100 they have run out: the oldest goes
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(table.state[slot]).toBe(PROCESSED);
    expect(table.lookup('a')).toBe(-1);
    expect(table.lookup('b')).toBeGreaterThanOrEqual(0);
  });

  it('tells apart keys that differ in one character, in length, or in order', () => {
    const table = new KeyTable(100);
    const keys = ['', 'a', 'b', 'ab', 'ba', 'abc', 'abd', 'g:0190a3b2-7c1e-7000-8000-000000000001', 'g:0190a3b2-7c1e-7000-8000-000000000002', 'é', '\u{1F600}'];
    for (const key of keys) {
      expect(table.lookup(key)).toBe(-1);
      table.add(0, PROCESSED);
    }
    for (const key of keys) expect(table.lookup(key)).toBeGreaterThanOrEqual(0);
    expect(new Set(keys.map((k) => table.lookup(k))).size).toBe(keys.length);
  });

  it('finds a key stored joined by its scope and key apart, and the other way round', () => {
    const table = new KeyTable(100);
    const pairs = [['g', '0190a3b2-7c1e-7000-8000-000000000001'], ['billing', 'x'], ['ab', 'c'], ['a', 'bc'], ['', ''], ['é', '\u{1F600}'], ['odd', 'even']] as const;
    for (const [scope, key] of pairs) {
      expect(table.lookup(key, scope)).toBe(-1);
      const slot = table.add(0, PROCESSED);
      expect(table.lookup(`${scope}:${key}`)).toBe(slot);
    }
    expect(table.lookup('bc', 'a')).not.toBe(table.lookup('c', 'ab')); // "a:bc" and "ab:c" are different keys
    table.lookup('plain:joined');
    const joined = table.add(0, PROCESSED);
    expect(table.lookup('joined', 'plain')).toBe(joined);
    expect(table.lookup('joined')).toBe(-1);
  });

  it('forgets everything on clear', () => {
    const table = new KeyTable(10);
    table.lookup('k');
    table.add(0, PROCESSED);
    table.clear();
    expect(table.lookup('k')).toBe(-1);
  });
});
