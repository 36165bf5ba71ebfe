import { formatPath } from './path.ts';
import { MIN_SECRET_LENGTH, redact, type SecretAt } from './substitute-env.ts';

/**
 * Config problems with the values read from the environment hidden as `***`. Everywhere, a whole
 * value is hidden; in a problem about the place where a value was substituted (its path, a path
 * inside it, or one enclosing it), so is every run of `MIN_SECRET_LENGTH` or more of its
 * characters after the path: checks quote parts of values (the first characters of a long one, one
 * token of a topic), and part of a token is still a secret. Other problems keep such runs, so that
 * an environment value such as `kafka-9092` does not blank out "kafka" in every message.
 *
 * @example
 * ```ts
 * redactProblems(['routes[0].retry.attempts: expected number, got "sk_live_abcd…"'], [{ path: ['routes', 0, 'retry', 'attempts'], value: 'sk_live_abcdef' }]);
 * // ['routes[0].retry.attempts: expected number, got "***…"']
 * ```
 */
export function redactProblems(problems: readonly string[], secretsAt: readonly SecretAt[]): string[] {
  if (secretsAt.length === 0) return [...problems];
  const whole = [...new Set(secretsAt.map((s) => s.value))];
  const located = secretsAt.map((s) => ({ path: formatPath(s.path), value: s.value }));
  // Problems that differed only in hidden parts (two tokens of one secret) become one.
  const redacted = problems.map((problem) => {
    const colon = problem.indexOf(': ');
    if (colon < 0) return redact(problem, whole);
    const path = problem.slice(0, colon);
    const near = located.filter((s) => within(path, s.path) || within(s.path, path)).map((s) => s.value);
    const body = near.length > 0 ? hideParts(problem.slice(colon + 2), near) : problem.slice(colon + 2);
    return redact(`${path}: ${body}`, whole);
  });
  return [...new Set(redacted)];
}

/**
 * Where in a substituted config each value from the environment now is: every string (or key)
 * containing it, and every number or boolean it became. The parser does not hand its own record of
 * substitutions on, so `loadBridgeConfig` recovers them for problems found after parsing (transport
 * options, modules). A place that holds the same text without a reference is found too: parts of
 * the value are then hidden in messages about it as well, which errs on the side of hiding.
 *
 * @example
 * ```ts
 * locateSecrets({ transports: { k: { brokers: 'tok_abcd,h:9092' } } }, ['tok_abcd,h:9092']);
 * // [{ path: ['transports', 'k', 'brokers'], value: 'tok_abcd,h:9092' }]
 * ```
 */
export function locateSecrets(tree: unknown, secrets: readonly string[]): SecretAt[] {
  const found: SecretAt[] = [];
  if (secrets.length === 0) return found;
  const seen = new Set<object>();
  const walk = (v: unknown, path: PropertyKey[]): void => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      const text = String(v);
      for (const value of secrets) if (typeof v === 'string' ? text.includes(value) : text === value) found.push({ path, value });
      return;
    }
    // Loaded configs are trees, but a cycle must not hang an error message.
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...path, i]));
    else
      for (const [key, item] of Object.entries(v)) {
        for (const value of secrets) if (key.includes(value)) found.push({ path: [...path, key], value });
        walk(item, [...path, key]);
      }
  };
  walk(tree, []);
  return found;
}

/** True when `path` is `outer` or a place inside it (`routes[1]` is not inside `routes[10]`). */
function within(path: string, outer: string): boolean {
  if (!path.startsWith(outer)) return false;
  const next = path[outer.length];
  return next === undefined || next === '.' || next === '[';
}
/** `text` with every run of at least MIN_SECRET_LENGTH characters that also occurs in one of `values` replaced by `***`. */
function hideParts(text: string, values: readonly string[]): string {
  const hidden = new Uint8Array(text.length);
  for (const value of new Set(values)) {
    // Longest common substring, row by row: run[j + 1] is how many characters up to text[i] and value[j] agree.
    let previous = new Uint32Array(value.length + 1);
    let run = new Uint32Array(value.length + 1);
    for (let i = 0; i < text.length; i++) {
      for (let j = 0; j < value.length; j++) {
        run[j + 1] = text[i] === value[j] ? previous[j]! + 1 : 0;
        if (run[j + 1]! >= MIN_SECRET_LENGTH) hidden.fill(1, i + 1 - run[j + 1]!, i + 1);
      }
      [previous, run] = [run, previous];
    }
  }
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (hidden[i] === 0) out += text[i];
    else if (i === 0 || hidden[i - 1] === 0) out += '***';
  }
  return out;
}
