/**
 * Characters a terminal acts on rather than shows: C0 and C1 controls (ESC starts a colour, a
 * title change or a cursor move; CR and LF break the line), the line and paragraph separators,
 * and the bidirectional overrides that make text read otherwise than it is stored.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * `text` safe to print on one terminal line: every control character written as an escape (`\n`,
 * `\u001b`). What the CLI prints from a message (payload, key, headers, a dead letter's error)
 * comes from whoever published it; printed as it is, it could recolour or rewrite the screen, or
 * pass for extra lines of output.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The characters {@link CONTROL} matches that JSON.stringify leaves as they are (it escapes only U+0000–U+001F). */
const CONTROL_IN_JSON = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `JSON.stringify(value, null, space)` with every control character escaped, for `--json` output
 * that lands on a terminal as often as in a pipe. The same value: such characters only occur in
 * JSON strings, where `\u009b` and the raw character mean the same.
 */
export function printableJson(value: unknown, space?: number): string {
  const json = JSON.stringify(value, null, space) as string | undefined; // undefined for undefined, a function…
  if (json === undefined) return String(value);
  return json.replace(CONTROL_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
