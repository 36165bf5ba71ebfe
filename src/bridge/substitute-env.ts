import { formatPath } from './path.ts';

/** Deepest nesting a config may have; deeper input is refused rather than walked. */
export const MAX_DEPTH = 64;
/** Most values (strings, numbers, objects…) a config may hold. */
export const MAX_VALUES = 100_000;

/** Values shorter than this are not hidden in messages (`8`, `true`, `eu` would blank out ordinary words). */
export const MIN_SECRET_LENGTH = 4;

/** A value read from the environment, and where in the config it was substituted. */
export interface SecretAt {
  path: PropertyKey[];
  value: string;
}

/** The result of substituting: the new tree, the problems (with paths), and the values that came from the environment. */
export interface Substituted {
  value: unknown;
  problems: string[];
  /** Values read from the environment, so messages can hide them (they are often secrets). */
  secrets: string[];
  /** The same values with where each was substituted, so messages about that place can hide parts of them too. */
  secretsAt: SecretAt[];
}

/** How `substituteEnv` treats some values. */
export interface SubstituteOptions {
  /**
   * True where a string is a template (`{key}`, `{headers.NAME}`): a value substituted there has its
   * braces doubled, so it stays literal text — a token `Bearer {abc}` is forwarded as it is, not
   * read as a placeholder (nor shown, in part, in a placeholder error). Default: nowhere.
   */
  isTemplate?: (path: readonly PropertyKey[]) => boolean;
}

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** A value that is one reference and nothing else: `${NAME}` or `${NAME:-default}`. */
export const WHOLE_REFERENCE = /^\$\{[^}]*\}$/;

/**
 * A value that YAML read unquoted and that is one reference (`concurrency: ${CONCURRENCY:-4}`).
 * Substituted, it is typed as YAML types a plain value written there: `8` a number, `true` a
 * boolean, anything else text. Quoted (`"${NAME}"`), a reference always gives text.
 */
export class UnquotedReference {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

// YAML 1.2 core schema numbers and booleans (decimal only: what an environment variable holds).
const INTEGER = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BOOLEAN = /^(true|True|TRUE|false|False|FALSE)$/;

/** `text` as YAML reads it unquoted: a number, a boolean, or the text itself (an integer too large to hold exactly stays text). */
function plainValue(text: string): string | number | boolean {
  if (BOOLEAN.test(text)) return text.toLowerCase() === 'true';
  if (INTEGER.test(text)) return Number.isSafeInteger(Number(text)) ? Number(text) : text;
  if (FLOAT.test(text)) return Number(text);
  return text;
}

/**
 * Replaces `${NAME}` in every string value of a parsed config by the environment variable, or
 * `${NAME:-fallback}` by the fallback when it is unset or empty; `$${` is a literal `${`. Keys
 * are substituted too (maps keyed by topic). A variable that is unset with no fallback is a
 * problem at its path. An `UnquotedReference` (a YAML value that is one unquoted reference)
 * becomes a number or boolean when its text is one, so numeric and boolean options can come
 * from the environment. In templates (`options.isTemplate`), substituted values are literal text.
 *
 * @example
 * ```ts
 * substituteEnv({ url: 'amqp://bridge:${AMQP_PASSWORD}@rabbit' }, { AMQP_PASSWORD: 's3cret' }).value;
 * ```
 */
export function substituteEnv(tree: unknown, env: Readonly<Record<string, string | undefined>>, options: SubstituteOptions = {}): Substituted {
  const problems: string[] = [];
  const secretsAt: SecretAt[] = [];
  const isTemplate = options.isTemplate ?? (() => false);
  // YAML aliases can make a value contain itself (`b: &b [*b]`) or share parts many times over:
  // refuse cycles and bound the values visited, so nothing here can loop or blow up.
  const ancestors = new Set<object>();
  let visited = 0;
  const walk = (v: unknown, path: PropertyKey[]): unknown => {
    if (++visited > MAX_VALUES) {
      if (visited === MAX_VALUES + 1) problems.push(`the configuration holds more than ${MAX_VALUES} values (through YAML aliases?)`);
      return undefined;
    }
    if (path.length > MAX_DEPTH) {
      problems.push(`${formatPath(path.slice(0, 8))}…: nested deeper than ${MAX_DEPTH} levels`);
      return undefined;
    }
    if (typeof v === 'string') return v.includes('${') ? substitute(v, path, isTemplate(path)) : v;
    if (v instanceof UnquotedReference) return plainValue(substitute(v.text, path, isTemplate(path)));
    if (v === null || typeof v !== 'object') return v;
    if (ancestors.has(v)) {
      problems.push(`${formatPath(path)}: contains itself (a YAML alias to an enclosing value)`);
      return undefined;
    }
    ancestors.add(v);
    try {
      return walkObject(v, path);
    } finally {
      ancestors.delete(v);
    }
  };
  const walkObject = (v: object, path: PropertyKey[]): unknown => {
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    const entries: Array<[string, unknown]> = [];
    const keys = new Set<string>();
    for (const [k, item] of Object.entries(v)) {
      // Keys too: maps keyed by topic name (`topics: { "orders.\${ENV}": … }`) need it.
      const key = k.includes('${') ? substitute(k, [...path, k], false) : k;
      if (keys.has(key)) problems.push(`${formatPath([...path, k])}: after substitution this key is "${key}", which is already a key here`);
      keys.add(key);
      entries.push([key, walk(item, [...path, k])]);
    }
    // fromEntries defines own properties, so a "__proto__" key stays a key (and is reported as unknown).
    return Object.fromEntries(entries);
  };
  // In a template, `{` and `}` of a substituted value are doubled: the template reads them as text.
  const substitute = (text: string, path: PropertyKey[], template: boolean): string =>
    text.replace(REFERENCE, (match, body: string | undefined) => {
      const literal = (value: string): string => (template ? value.replace(/[{}]/g, '$&$&') : value);
      if (body === undefined) return '${'; // "$${": escaped
      const fallbackAt = body.indexOf(':-');
      const name = fallbackAt >= 0 ? body.slice(0, fallbackAt) : body;
      if (!NAME.test(name)) {
        problems.push(`${formatPath(path)}: "${match}" is not a valid environment reference (use \${NAME} or \${NAME:-default}; "$\${" for a literal "\${")`);
        return match;
      }
      const value = Object.hasOwn(env, name) ? env[name] : undefined;
      if (value !== undefined && value !== '') {
        const substituted = literal(value);
        if (value.length >= MIN_SECRET_LENGTH) {
          // The escaped form too: messages quoting the template show that.
          secretsAt.push({ path, value });
          if (substituted !== value) secretsAt.push({ path, value: substituted });
        }
        return substituted;
      }
      if (fallbackAt >= 0) return literal(body.slice(fallbackAt + 2));
      problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return '';
    });
  const value = walk(tree, []);
  return { value, problems, secrets: [...new Set(secretsAt.map((s) => s.value))], secretsAt };
}

/**
 * `text` with every secret replaced by `***`.
 *
 * @example
 * ```ts
 * redact('cannot reach amqp://u:s3cret@host', ['s3cret']); // 'cannot reach amqp://u:***@host'
 * ```
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}
