import { closest } from '../bridge/suggest.ts';

/**
 * The existing name `name` is most likely a typo of, among a broker's names (topics), or
 * undefined. `closest()` compares a couple of hundred candidates at most (hostile input), and a
 * cluster may hold thousands: those that could be a typo of `name` go first — a length within a
 * third of it, the most of it intact at its start and end.
 *
 * @example
 * ```ts
 * likelyTypo('ordres.placed', ['orders.placed', 'payments']); // 'orders.placed'
 * ```
 */
export function likelyTypo(name: string, names: readonly string[]): string | undefined {
  // One typo leaves what comes before it and what comes after it intact.
  const intact = (other: string): number => {
    let head = 0;
    while (head < name.length && head < other.length && name[head] === other[head]) head++;
    let tail = 0;
    while (tail < name.length - head && tail < other.length - head && name[name.length - 1 - tail] === other[other.length - 1 - tail]) tail++;
    return head + tail;
  };
  const candidates = names
    .filter((other) => Math.abs(other.length - name.length) <= name.length / 3 + 1)
    .map((other) => ({ other, shared: intact(other) }))
    .sort((a, b) => b.shared - a.shared)
    .map((c) => c.other);
  return closest(name, candidates);
}
