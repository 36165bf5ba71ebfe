import { LineCounter, parseDocument, visit } from 'yaml';
import { ConfigError } from '../core/errors.ts';
import { redactProblems } from './redact-problems.ts';
import { substituteEnv, UnquotedReference, WHOLE_REFERENCE } from './substitute-env.ts';
import { isTemplateField } from './template-fields.ts';
import { validateBridgeConfig, type ConfigResult } from './validate-config.ts';

/** What `parseBridgeConfig` returns: the config (and the values it took from the environment, to hide in later messages) or every problem. */
export type ParseResult = ConfigResult & { secrets?: string[] };

/** How `parseBridgeConfig` reads its text. */
export interface ParseConfigOptions {
  /** `yaml` (also reads JSON), `json`, or `auto`: JSON when the text is JSON, else YAML. Default `auto`. */
  format?: 'yaml' | 'json' | 'auto';
  /** Where `${NAME}` references are looked up. Default: none (every reference is unset). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Largest config text accepted, in bytes: a bridge config is a page or two, not a data file. */
export const MAX_CONFIG_BYTES = 1_048_576;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses and validates a bridge configuration from text: YAML or JSON, `${ENV}` substitution in
 * string values, then every check of `validateBridgeConfig`. Pure (reads no file, imports no
 * module, connects nothing) and total: any input gives a result, never an exception other than
 * a ConfigError, and in time linear in its size. Messages never show values that came from the
 * environment (nor, about where one was substituted, any part of it). In templates, such a value
 * is literal text: its braces are no placeholders.
 *
 * @example
 * ```ts
 * const result = parseBridgeConfig(readFileSync('bridge.yaml', 'utf8'), { env: process.env });
 * if (!result.ok) for (const p of result.problems) console.error(p);
 * ```
 */
export function parseBridgeConfig(text: string | Uint8Array, options: ParseConfigOptions = {}): ParseResult {
  try {
    return parseUnguarded(text, options);
  } catch (error) {
    // Nothing above should throw; if a dependency does on some input, it is still a config problem.
    if (error instanceof ConfigError) throw error;
    return { ok: false, problems: [`the configuration cannot be read: ${error instanceof Error ? error.message : String(error)}`] };
  }
}

function parseUnguarded(input: string | Uint8Array, options: ParseConfigOptions): ParseResult {
  const size = typeof input === 'string' ? input.length : input.byteLength;
  if (size > MAX_CONFIG_BYTES) return { ok: false, problems: [`the configuration is ${size} bytes; at most ${MAX_CONFIG_BYTES} are accepted`] };
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = utf8.decode(input);
    } catch {
      return { ok: false, problems: ['the configuration is not valid UTF-8 text'] };
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return { ok: false, problems: ['the configuration is empty: it needs "transports" and "routes"'] };
  const format = options.format ?? 'auto';
  let parsed = format === 'yaml' ? parseYaml(text) : parseJson(text);
  // `auto`: JSON when it parses as JSON, else YAML (a superset, with better error positions).
  if (format === 'auto' && 'problems' in parsed) parsed = parseYaml(text);
  if ('problems' in parsed) return { ok: false, problems: parsed.problems };
  const env = substituteEnv(parsed.value, options.env ?? {}, { isTemplate: isTemplateField });
  const result = env.problems.length > 0 ? { ok: false as const, problems: env.problems } : validateBridgeConfig(env.value);
  if (result.ok) return { ...result, secrets: env.secrets };
  return { ok: false, problems: redactProblems(result.problems, env.secretsAt) };
}

function parseJson(text: string): { value: unknown } | { problems: string[] } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    return { problems: [`not valid JSON: ${(error as Error).message}`] };
  }
}

function parseYaml(text: string): { value: unknown } | { problems: string[] } {
  const lineCounter = new LineCounter();
  // uniqueKeys: a key given twice is a mistake, not "the last one wins".
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true, version: '1.2', logLevel: 'silent' });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.slice(0, 20).map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        return `line ${line}, column ${col}: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  // An unquoted value that is one reference is typed once substituted (`concurrency: ${N}` is a
  // number), as if its value were written there; quoted, it stays text. Keys are always text.
  visit(doc, {
    Scalar(key, node) {
      if (key !== 'key' && node.type === 'PLAIN' && typeof node.value === 'string' && WHOLE_REFERENCE.test(node.value)) node.value = new UnquotedReference(node.value);
    },
  });
  // maxAliasCount bounds "billion laughs" alias expansion.
  return { value: doc.toJS({ maxAliasCount: 100 }) as unknown };
}
