import { PermanentError } from '../core/errors.ts';
import type { BridgeMessage, FilterFunction, FilterSpec, Predicate } from './config-schema.ts';

/** A compiled test on one value; `undefined` means the value is absent. */
type Test = (value: unknown) => boolean;

/** A compiled filter: true keeps the message. */
export type MessageFilter = (message: BridgeMessage) => boolean | Promise<boolean>;

/**
 * Compiles a predicate (`"paid"`, `{ in: [...] }`, `{ gte: 100, lt: 500 }`, `{ matches: "^eu-" }`,
 * `{ exists: false }`…) into a test; every condition in one object must hold. `asText` compares
 * as strings (keys and headers are strings; a YAML `2` means `"2"` there).
 *
 * @example
 * ```ts
 * const test = compilePredicate({ gte: 10, lt: 100 }, false);
 * if (!('problems' in test)) test(42); // true
 * ```
 */
export function compilePredicate(predicate: Predicate, asText: boolean): Test | { problems: string[] } {
  const norm = (v: unknown): unknown => (asText && v !== null && v !== undefined && typeof v !== 'object' ? String(v) : v);
  if (predicate === null || typeof predicate !== 'object') {
    const want = norm(predicate);
    return (v) => v !== undefined && same(v, want);
  }
  const p = predicate;
  const tests: Test[] = [];
  const problems: string[] = [];
  if ('equals' in p) {
    const want = norm(p.equals);
    tests.push((v) => v !== undefined && same(v, want));
  }
  if ('notEquals' in p) {
    const want = norm(p.notEquals);
    tests.push((v) => !same(v, want));
  }
  if (p.in) {
    const list = p.in.map(norm);
    tests.push((v) => v !== undefined && list.some((w) => same(v, w)));
  }
  if (p.notIn) {
    const list = p.notIn.map(norm);
    tests.push((v) => !list.some((w) => same(v, w)));
  }
  if (p.prefix !== undefined) tests.push((v) => typeof v === 'string' && v.startsWith(p.prefix!));
  if (p.suffix !== undefined) tests.push((v) => typeof v === 'string' && v.endsWith(p.suffix!));
  if (p.contains !== undefined) tests.push((v) => typeof v === 'string' && v.includes(p.contains!));
  if (p.matches !== undefined) {
    try {
      const re = new RegExp(p.matches, 'u');
      tests.push((v) => typeof v === 'string' && re.test(v));
    } catch (error) {
      problems.push(`matches: not a valid regular expression: ${(error as Error).message}`);
    }
  }
  if (p.exists !== undefined) tests.push((v) => (v !== undefined) === p.exists);
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : asText && typeof v === 'string' && v.trim() !== '' ? Number(v) : undefined);
  if (p.gt !== undefined) tests.push((v) => (num(v) ?? Number.NaN) > p.gt!);
  if (p.gte !== undefined) tests.push((v) => (num(v) ?? Number.NaN) >= p.gte!);
  if (p.lt !== undefined) tests.push((v) => (num(v) ?? Number.NaN) < p.lt!);
  if (p.lte !== undefined) tests.push((v) => (num(v) ?? Number.NaN) <= p.lte!);
  if (problems.length > 0) return { problems };
  if (tests.length === 0) return { problems: ['an empty condition tests nothing: give equals, in, prefix, matches, exists, gt… (or a plain value)'] };
  return (v) => tests.every((t) => t(v));
}

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'object' && typeof b === 'object' && a !== null && b !== null) return JSON.stringify(a) === JSON.stringify(b);
  return false;
}

/**
 * The value at a dot path (`customer.tier`, `items.0.sku`) in a decoded payload, or undefined.
 *
 * @example
 * ```ts
 * valueAt({ customer: { tier: 'gold' } }, ['customer', 'tier']); // 'gold'
 * ```
 */
export function valueAt(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const step of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, step)) return undefined;
    v = (v as Record<string, unknown>)[step];
  }
  return v;
}

/**
 * Compiles a route's filter: every predicate on the key, the headers and JSON fields must hold,
 * then the module function (if any) must return true. A function that returns anything but a
 * boolean fails the message with a PermanentError (it is dead-lettered, not silently skipped).
 * Returns the problems found instead, each with its path inside the filter (`json.total.matches: …`).
 *
 * @example
 * ```ts
 * const keep = compileFilter({ json: { status: 'paid', total: { gte: 100 } } });
 * ```
 */
export function compileFilter(spec: FilterSpec, fn?: FilterFunction): MessageFilter | { problems: string[] } {
  const problems: string[] = [];
  const tests: Array<(m: BridgeMessage) => boolean> = [];
  const add = (path: string, predicate: Predicate, asText: boolean, read: (m: BridgeMessage) => unknown): void => {
    const t = compilePredicate(predicate, asText);
    if ('problems' in t) problems.push(...t.problems.map((p) => `${path}${p.startsWith('matches') ? '.' : ': '}${p}`));
    else tests.push((m) => t(read(m)));
  };
  if (spec.key !== undefined) add('key', spec.key, true, (m) => m.key);
  for (const [name, predicate] of Object.entries(spec.headers ?? {})) {
    add(`headers.${name}`, predicate, true, (m) => (Object.hasOwn(m.headers, name) ? m.headers[name] : undefined));
  }
  for (const [path, predicate] of Object.entries(spec.json ?? {})) {
    const steps = path.split('.');
    if (steps.some((s) => s === '')) {
      problems.push(`json.${path}: a field path is dot-separated names ("customer.tier")`);
      continue;
    }
    add(`json.${path}`, predicate, false, (m) => valueAt(m.payload, steps));
  }
  if (problems.length > 0) return { problems };
  if (!fn) return (m) => tests.every((t) => t(m));
  return async (m) => tests.every((t) => t(m)) && checkedResult(await fn(m), fn, m.id);
}

/**
 * The filter function's verdict, which must be a boolean. Anything else — most often `undefined`
 * from a function missing its `return` — is a bug that would skip every message without a word,
 * so it is a PermanentError: the message is dead-lettered with the reason, not lost.
 */
function checkedResult(result: unknown, fn: FilterFunction, id: string): boolean {
  if (typeof result === 'boolean') return result;
  // The kind of value, not the value: it may be message data (a header, a field), which logs must not show.
  const got = result === undefined || result === null ? String(result) : Array.isArray(result) ? 'an array' : typeof result === 'object' ? 'an object' : `a ${typeof result}`;
  const name = fn.name === '' ? 'the filter function' : `the filter function "${fn.name}"`;
  throw new PermanentError(`${name} returned ${got} for message ${id}; it must return true (forward) or false (skip)${result === undefined ? ': is a "return" missing?' : ''}`);
}
