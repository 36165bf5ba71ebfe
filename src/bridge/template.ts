import { PermanentError } from '../core/errors.ts';

/** What a template can read from the source message. */
export interface TemplateInput {
  topic: string;
  key: string;
  id: string;
  headers: Readonly<Record<string, string>>;
}

type Part =
  | { kind: 'text'; text: string }
  | { kind: 'topic' }
  | { kind: 'token'; index: number }
  | { kind: 'key' }
  | { kind: 'id' }
  | { kind: 'header'; name: string };

/** A compiled template: `render` fills it in for one message. */
export interface Template {
  readonly source: string;
  /** True when the template has no placeholder: it renders to `source` for every message. */
  readonly constant: boolean;
  /**
   * Fills the template in; a placeholder with no value (a missing header, token or empty key) is a
   * PermanentError, and so is, in a topic template, a header, key or id that is not one topic token.
   */
  render(input: TemplateInput): string;
  /** The template with every placeholder replaced by `filler` (to check the shape of the result). */
  sample(filler: string): string;
}

/** How a template's result is used. */
export interface TemplateOptions {
  /**
   * The template renders a topic: a value taken from message data (`{headers.NAME}`, `{key}`,
   * `{id}`) must fill exactly one topic token, or rendering is a PermanentError. Without this a
   * sender could pick the destination's depth (`eu.internal.admin`) or a wildcard (`>`) through a
   * header. Default false (keys and header values may hold anything).
   */
  topic?: boolean;
}

// The characters of one topic token (src/core/topic.ts); no ".", "*" or ">".
const TOKEN = /^[A-Za-z0-9_\-:@]+$/;

const PLACEHOLDERS = 'use {topic}, {topic[N]} (the N-th dot-separated token, from 0; -1 is the last), {key}, {id} or {headers.NAME}';

/**
 * Compiles `orders.{key}`-style templates over the source message: `{topic}`, `{topic[1]}`,
 * `{key}`, `{id}`, `{headers.x-region}`; `{{` and `}}` stand for literal braces. Returns the
 * template, or the problems with it.
 *
 * @example
 * ```ts
 * const t = compileTemplate('eu.{headers.region}.{topic[-1]}');
 * if ('render' in t) t.render({ topic: 'orders.placed', key: '', id: 'm1', headers: { region: 'de' } }); // 'eu.de.placed'
 * ```
 */
export function compileTemplate(source: string, options: TemplateOptions = {}): Template | { problems: string[] } {
  const topic = options.topic === true;
  const parts: Part[] = [];
  const problems: string[] = [];
  let text = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '{' && source[i + 1] === '{') {
      text += '{';
      i++;
    } else if (c === '}' && source[i + 1] === '}') {
      text += '}';
      i++;
    } else if (c === '}') {
      problems.push(`unmatched "}" at position ${i} (write "}}" for a literal brace)`);
    } else if (c === '{') {
      const end = source.indexOf('}', i + 1);
      if (end < 0) {
        problems.push(`unclosed "{" at position ${i}`);
        break;
      }
      const inner = source.slice(i + 1, end).trim();
      const part = placeholder(inner);
      if (part === undefined) problems.push(`unknown placeholder "{${inner}}": ${PLACEHOLDERS}`);
      else {
        if (text !== '') parts.push({ kind: 'text', text });
        text = '';
        parts.push(part);
      }
      i = end;
    } else text += c;
  }
  if (problems.length > 0) return { problems };
  if (text !== '') parts.push({ kind: 'text', text });
  const constant = parts.every((p) => p.kind === 'text');
  return {
    source,
    constant,
    render: (input) => (constant ? text : parts.map((p) => value(p, input, source, topic)).join('')),
    sample: (filler) => parts.map((p) => (p.kind === 'text' ? p.text : filler)).join(''),
  };
}

function placeholder(inner: string): Part | undefined {
  if (inner === 'topic') return { kind: 'topic' };
  if (inner === 'key') return { kind: 'key' };
  if (inner === 'id') return { kind: 'id' };
  const token = /^topic\[(-?\d{1,3})\]$/.exec(inner);
  if (token) return { kind: 'token', index: Number(token[1]) };
  const header = /^headers\.(.+)$/.exec(inner);
  if (header) return { kind: 'header', name: header[1]! };
  return undefined;
}

function value(part: Part, input: TemplateInput, source: string, topic: boolean): string {
  let v: string | undefined;
  switch (part.kind) {
    case 'text':
      return part.text;
    case 'topic':
      return input.topic;
    case 'id':
      if (!topic) return input.id;
      v = input.id;
      break;
    case 'key':
      v = input.key;
      break;
    case 'token': {
      const tokens = input.topic.split('.');
      v = tokens.at(part.index);
      break;
    }
    case 'header':
      v = Object.hasOwn(input.headers, part.name) ? input.headers[part.name] : undefined;
      break;
  }
  if (v === undefined || v === '') {
    const what =
      part.kind === 'key' ? 'the message has no key'
      : part.kind === 'id' ? 'the message has no id'
      : part.kind === 'token' ? `topic "${input.topic}" has no token ${part.index}`
      : `the message has no header "${(part as { name: string }).name}"`;
    throw new PermanentError(`template "${source}" cannot be filled in for message ${input.id}: ${what}`);
  }
  // Topic tokens come from a topic the transport delivered, already valid; message data is not.
  if (topic && part.kind !== 'token' && !TOKEN.test(v)) {
    const name = part.kind === 'header' ? `{headers.${part.name}}` : `{${part.kind}}`;
    const shown = JSON.stringify(v.length > 100 ? `${v.slice(0, 100)}…` : v);
    throw new PermanentError(
      `template "${source}" cannot be filled in for message ${input.id}: ${name} is ${shown}, which is not one topic token ` +
        '(only letters, digits, "_", "-", ":" and "@"; no ".", "*" or ">")',
    );
  }
  return v;
}
