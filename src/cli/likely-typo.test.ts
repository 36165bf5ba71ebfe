import { expect, it } from 'vitest';
import { likelyTypo } from './likely-typo.ts';

it('finds the typo among thousands of similar names (closest() alone looks at the first 200)', () => {
  const names = Array.from({ length: 3_000 }, (_, i) => `cli-lag-known.${String(100_000 + i)}`);
  const real = 'cli-lag-known.102999';
  expect(likelyTypo(`${real}x`, names)).toBe(real);
  expect(likelyTypo('cli-lag-knwon.102999', names)).toBe(real);
});

it('suggests nothing when no name is close', () => {
  expect(likelyTypo('payments', ['orders.placed', 'orders.paid'])).toBeUndefined();
  expect(likelyTypo('orders', [])).toBeUndefined();
});
