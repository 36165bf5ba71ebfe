import type { z } from 'zod';
import { groupProblems, patternProblems, topicMatches, topicProblems } from '../core/topic.ts';
import type { Transport } from '../core/transport.ts';
import { configSchema, TRANSPORT_TYPES, transportSchemas, type BridgeConfig, type TransportType } from './config-schema.ts';
import { compileFilter } from './filter.ts';
import { formatPath } from './path.ts';
import { routeLoops, sampleRender, sampleTopic, type RouteEnds } from './route-loops.ts';
import { didYouMean } from './suggest.ts';
import { compileTemplate } from './template.ts';

/** Problems reported at most; the rest are counted. */
const MAX_PROBLEMS = 200;

/** Either a valid configuration or every problem found, each starting with its path. */
export type ConfigResult = { ok: true; config: BridgeConfig } | { ok: false; problems: string[] };

/**
 * True for a ready transport object (given in code instead of a spec).
 *
 * @example
 * ```ts
 * isTransportInstance(memory()); // true; isTransportInstance({ type: 'memory' }) is false
 * ```
 */
export function isTransportInstance(value: unknown): value is Transport {
  return typeof value === 'object' && value !== null && typeof (value as Transport).publish === 'function' && typeof (value as Transport).subscribe === 'function';
}

/**
 * Checks a parsed configuration (from a file, or an object built in code) and reports every
 * problem at once, each with its path: the structure and option names, then what refers to what
 * (transport and schema names, templates, topics, groups, filters, loops). Pure: nothing is
 * read, imported or connected.
 *
 * @example
 * ```ts
 * const result = validateBridgeConfig({ transports: { bus: { type: 'memory' } }, routes: [] });
 * if (!result.ok) console.error(result.problems.join('\n')); // routes: at least one route is needed
 * ```
 */
export function validateBridgeConfig(input: unknown): ConfigResult {
  const problems: string[] = [];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, problems: [`(top level): expected an object with "transports" and "routes", got ${describe(input)}`] };
  }
  const parsed = configSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) problems.push(...zodProblems(parsed.error.issues, []));

  const raw = input as Record<string, unknown>;
  const transports = isRecord(raw.transports) ? raw.transports : {};
  const transportNames = Object.keys(transports);
  const types = new Map<string, TransportType | 'instance'>();
  for (const [name, spec] of Object.entries(transports)) {
    const t = transportProblems(name, spec);
    problems.push(...t.problems);
    if (t.type) types.set(name, t.type);
  }
  const schemaNames = isRecord(raw.schemas) ? Object.keys(raw.schemas) : [];
  const routes = Array.isArray(raw.routes) ? raw.routes : [];
  const names = new Map<string, number>();
  const readers = new Map<string, number>();
  const ends: RouteEnds[] = [];
  for (const [i, route] of routes.entries()) {
    if (problems.length >= MAX_PROBLEMS) break; // enough to fix first; bounds the work on hostile input
    if (isRecord(route)) problems.push(...routeProblems(route, i, { transportNames, schemaNames, names, readers, ends })); // else zod reported it
  }
  if (problems.length === 0) problems.push(...routeLoops(ends));
  if (problems.length > 0) {
    const list = inFileOrder(unique(problems));
    return { ok: false, problems: list.length > MAX_PROBLEMS ? [...list.slice(0, MAX_PROBLEMS), `… and ${list.length - MAX_PROBLEMS} more problems`] : list };
  }
  const config = parsed.data as unknown as BridgeConfig;
  // Keep what the caller gave for each transport: a ready instance stays the same object.
  config.transports = transports as BridgeConfig['transports'];
  return { ok: true, config };
}

function transportProblems(name: string, spec: unknown): { problems: string[]; type?: TransportType | 'instance' } {
  const at = ['transports', name];
  if (isTransportInstance(spec)) return { problems: [], type: 'instance' };
  if (!isRecord(spec)) return { problems: [`${formatPath(at)}: expected an object with a "type" (${TRANSPORT_TYPES.join(', ')}), got ${describe(spec)}`] };
  const type = spec.type;
  if (type === undefined) return { problems: [`${formatPath([...at, 'type'])}: missing; one of ${TRANSPORT_TYPES.join(', ')}`] };
  if (typeof type !== 'string' || !(TRANSPORT_TYPES as readonly string[]).includes(type)) {
    const text = typeof type === 'string' ? `"${type}"` : describe(type);
    return { problems: [`${formatPath([...at, 'type'])}: unknown transport type ${text}${typeof type === 'string' ? didYouMean(type, TRANSPORT_TYPES) : ''}; one of ${TRANSPORT_TYPES.join(', ')}`] };
  }
  const result = transportSchemas[type as TransportType].safeParse(spec, { reportInput: true });
  return { problems: result.success ? [] : zodProblems(result.error.issues, at), type: type as TransportType };
}

interface Known {
  transportNames: string[];
  schemaNames: string[];
  names: Map<string, number>;
  /** The first route reading each transport, topic and group. */
  readers: Map<string, number>;
  /** Where each well-formed route reads and writes, for routeLoops. */
  ends: RouteEnds[];
}

function routeProblems(route: Record<string, unknown>, i: number, known: Known): string[] {
  const problems: string[] = [];
  const at = (...path: PropertyKey[]): string => formatPath(['routes', i, ...path]);
  const str = (v: unknown): v is string => typeof v === 'string' && v !== '';
  const from = isRecord(route.from) ? route.from : {};
  const to = isRecord(route.to) ? route.to : {};

  if (str(route.name)) {
    const first = known.names.get(route.name);
    if (first !== undefined) problems.push(`${at('name')}: "${route.name}" is already the name of routes[${first}]; route names must be unique`);
    else known.names.set(route.name, i);
  }
  const transportRef = (v: unknown, ...path: PropertyKey[]): void => {
    if (str(v) && !known.transportNames.includes(v)) {
      const list = known.transportNames.length > 0 ? `; declared: ${known.transportNames.join(', ')}` : '; none is declared under "transports"';
      problems.push(`${at(...path)}: unknown transport "${v}"${didYouMean(v, known.transportNames)}${list}`);
    }
  };
  transportRef(from.transport, 'from', 'transport');
  transportRef(to.transport, 'to', 'transport');
  if (str(from.topic)) problems.push(...patternProblems(from.topic).map((p) => `${at('from', 'topic')}: ${p}`));
  const group = from.group ?? (str(route.name) ? `bridge.${route.name}` : undefined);
  if (from.group !== undefined && typeof from.group === 'string') problems.push(...groupProblems(group).map((p) => `${at('from', 'group')}: ${p}`));
  // Two routes reading one topic in one group are competing consumers: each would get only part
  // of the messages (RabbitMQ round-robins the shared queue, Kafka splits the partitions), and
  // nothing would say so. Each route needs the whole stream, so its own group.
  if (str(from.transport) && str(from.topic) && typeof group === 'string') {
    const reader = `${from.transport}\u0000${from.topic}\u0000${group}`;
    const first = known.readers.get(reader);
    if (first === undefined) known.readers.set(reader, i);
    else {
      problems.push(
        `${at('from', 'group')}: routes[${first}] reads "${from.topic}" on transport "${from.transport}" in the same group "${group}": ` +
          'the two routes would share its messages, each getting only part of them; give each route its own group (or leave group out: the default is bridge.<route name>)',
      );
    }
  }

  // Templates: check their syntax, and that what they produce can be a topic.
  const template = (v: unknown, kind: 'topic' | 'text', ...path: PropertyKey[]): ReturnType<typeof compileTemplate> | undefined => {
    if (typeof v !== 'string') return undefined;
    const t = compileTemplate(v);
    if ('problems' in t) problems.push(...t.problems.map((p) => `${at(...path)}: ${p}`));
    else if (kind === 'topic') problems.push(...topicProblems(t.sample('x')).map((p) => `${at(...path)}: ${t.constant ? p : `${p} (with every placeholder filled in)`}`));
    return t;
  };
  const toTopic = template(to.topic, 'topic', 'to', 'topic');
  if (str(route.name) && str(from.transport) && str(from.topic) && str(to.transport) && toTopic && !('problems' in toTopic)) {
    known.ends.push({ index: i, name: route.name, fromTransport: from.transport, fromTopic: from.topic, toTransport: to.transport, toTopic, canStop: route.filter !== undefined || route.transform !== undefined });
  }
  template(to.key, 'text', 'to', 'key');
  if (isRecord(to.headers)) for (const [name, value] of Object.entries(to.headers)) template(value, 'text', 'to', 'headers', name);

  // A route that writes back into what it reads would bridge its own output forever.
  if (str(from.transport) && from.transport === to.transport && str(from.topic) && toTopic && !('problems' in toTopic)) {
    const sample = sampleRender(toTopic, sampleTopic(from.topic));
    if (sample !== undefined && patternProblems(from.topic).length === 0 && topicProblems(sample).length === 0 && topicMatches(from.topic, sample)) {
      problems.push(`${at('to', 'topic')}: "${to.topic as string}" on transport "${to.transport as string}" is read by this route's own source "${from.topic}": every message would be bridged again, forever`);
    }
  }

  const deadLetter = route.deadLetter;
  if (isRecord(deadLetter)) {
    transportRef(deadLetter.transport, 'deadLetter', 'transport');
    const dl = template(deadLetter.topic, 'topic', 'deadLetter', 'topic');
    const dlTransport = deadLetter.transport ?? from.transport;
    if (dl && !('problems' in dl) && dl.constant && dlTransport === from.transport && str(from.topic) && patternProblems(from.topic).length === 0 && topicMatches(from.topic, dl.source)) {
      problems.push(`${at('deadLetter', 'topic')}: "${dl.source}" is read by this route's own source "${from.topic}": dead letters would be bridged again; pick a topic outside it`);
    }
  }

  const format = isRecord(route.format) ? route.format : {};
  for (const side of ['in', 'out'] as const) {
    const f = format[side];
    if (isRecord(f) && str(f.protobuf) && !known.schemaNames.includes(f.protobuf)) {
      const list = known.schemaNames.length > 0 ? `; declared: ${known.schemaNames.join(', ')}` : '; declare it under "schemas"';
      problems.push(`${at('format', side, 'protobuf')}: unknown schema "${f.protobuf}"${didYouMean(f.protobuf, known.schemaNames)}${list}`);
    }
  }
  if (isRecord(route.filter)) {
    const compiled = compileFilter(route.filter as Parameters<typeof compileFilter>[0]);
    if ('problems' in compiled) problems.push(...compiled.problems.map((p) => `${at('filter')}.${p}`));
    if (isRecord(route.filter.json) && (format.in === 'raw' || format.in === 'text')) {
      problems.push(`${at('filter', 'json')}: filtering on JSON fields needs the payload decoded: format.in is "${format.in as string}" (use json or a protobuf schema)`);
    }
  }
  const retry = isRecord(route.retry) ? route.retry : {};
  if (typeof retry.initialDelayMs === 'number' && typeof retry.maxDelayMs === 'number' && retry.maxDelayMs < retry.initialDelayMs) {
    problems.push(`${at('retry', 'maxDelayMs')}: must be at least initialDelayMs (${retry.initialDelayMs})`);
  }
  return problems;
}

/**
 * Zod issues as `path: message` lines, with "did you mean" where a choice was mistyped.
 *
 * @example
 * ```ts
 * zodProblems(schema.safeParse(value, { reportInput: true }).error!.issues, ['transports', 'kafka']);
 * ```
 */
export function zodProblems(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): string[] {
  const out: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    const where = formatPath(path);
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const line of issue.message.split('\n')) out.push(`${where}: ${line}`);
        break;
      case 'invalid_type':
        out.push(input === undefined ? `${where}: missing (required)` : `${where}: expected ${issue.expected}, got ${describe(input)}`);
        break;
      case 'invalid_value': {
        const values = issue.values.map((v) => JSON.stringify(v));
        const hint = typeof input === 'string' ? didYouMean(input, issue.values.filter((v): v is string => typeof v === 'string')) : '';
        out.push(`${where}: expected ${values.length === 1 ? values[0] : `one of ${values.join(', ')}`}, got ${describe(input)}${hint}`);
        break;
      }
      case 'invalid_union': {
        if (input === undefined) {
          out.push(`${where}: missing (required)`);
          break;
        }
        // The branch that got furthest (issues deeper than the union itself) says what is wrong.
        const deeper = issue.errors.filter((branch) => branch.some((e) => e.path.length > 0 || e.code === 'unrecognized_keys'));
        if (deeper.length === 1) out.push(...zodProblems(deeper[0]!, path));
        else out.push(`${where}: ${issue.message}, got ${describe(input)}`);
        break;
      }
      case 'too_small':
        if (issue.origin === 'string' && issue.minimum === 1) out.push(`${where}: must not be empty`);
        else if (issue.origin === 'number') out.push(`${where}: must be ${issue.inclusive ? '≥' : '>'} ${String(issue.minimum)}, got ${describe(input)}`);
        else out.push(`${where}: ${lowerFirst(issue.message)}`);
        break;
      case 'too_big':
        if (issue.origin === 'number') out.push(`${where}: must be ${issue.inclusive ? '≤' : '<'} ${String(issue.maximum)}, got ${describe(input)}`);
        else out.push(`${where}: ${lowerFirst(issue.message)}`);
        break;
      default:
        out.push(`${where}: ${lowerFirst(issue.message)}`);
    }
  }
  return out;
}

function lowerFirst(s: string): string {
  return s.startsWith('Too ') || s.startsWith('Invalid ') ? s[0]!.toLowerCase() + s.slice(1) : s;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SECTIONS = ['(top level)', 'transports', 'schemas', 'routes'];

/** Problems sorted as the file reads: transports, schemas, then routes by index (stable within one place). */
function inFileOrder(problems: string[]): string[] {
  const rank = (p: string): [number, number] => {
    const section = SECTIONS.findIndex((s) => p.startsWith(s));
    const route = /^routes\[(\d+)\]/.exec(p);
    return [section < 0 ? SECTIONS.length : section, route ? Number(route[1]) : -1];
  };
  return problems
    .map((p, i) => ({ p, i, r: rank(p) }))
    .sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i)
    .map((x) => x.p);
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}
