/**
 * Edit distance between two short strings (Levenshtein: insertions, deletions, substitutions,
 * plus adjacent swaps, the most common typo). Only for names in config files, so quadratic is fine.
 *
 * @example
 * ```ts
 * editDistance('kafak', 'kafka'); // 1
 * ```
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  // Three rows suffice for the swap rule. Names longer than 48 characters are compared on their
  // first 48: enough for a typo, and it bounds the work on hostile input.
  const m = Math.min(a.length, 48);
  const n = Math.min(b.length, 48);
  let before = new Array<number>(n + 1).fill(0);
  let prev = Array.from({ length: n + 1 }, (_, j) => j);
  let row = new Array<number>(n + 1).fill(0);
  for (let i = 1; i <= m; i++) {
    row[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row[j] = d;
    }
    [before, prev, row] = [prev, row, before];
  }
  return prev[n]!;
}

/** Candidates compared at most: a config has a handful of names; thousands means hostile input. */
const MAX_CANDIDATES = 200;

/**
 * The closest of `candidates` to `word`, when it is close enough to be a likely typo (at most a
 * third of the word's letters differ, case ignored); otherwise undefined.
 *
 * @example
 * ```ts
 * closest('kafak', ['kafka', 'nats']); // 'kafka'
 * ```
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let compared = 0;
  for (const c of candidates) {
    if (++compared > MAX_CANDIDATES) break;
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(1, Math.floor(Math.max(word.length, 3) / 3));
  return best !== undefined && bestDistance <= limit ? best : undefined;
}

/**
 * ` (did you mean "x"?)` when a candidate is close, else an empty string: appended to messages.
 *
 * @example
 * ```ts
 * `unknown transport "kafak"${didYouMean('kafak', ['kafka'])}`; // … (did you mean "kafka"?)
 * ```
 */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c === undefined ? '' : ` (did you mean "${c}"?)`;
}
