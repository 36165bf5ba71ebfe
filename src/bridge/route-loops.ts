import { patternProblems, topicMatches, topicProblems } from '../core/topic.ts';
import type { Template } from './template.ts';

/** What loop detection needs of a route: where it reads, where it writes, and whether it can stop a message. */
export interface RouteEnds {
  /** Index in `routes`. */
  index: number;
  name: string;
  fromTransport: string;
  fromTopic: string;
  toTransport: string;
  toTopic: Template;
  /** A filter or transform may stop a message (or send it elsewhere): such a route breaks a loop. */
  canStop: boolean;
}

/** Steps the search takes at most; the routes of a real config are far fewer. */
const MAX_STEPS = 10_000;

/**
 * Loops between routes: route A writes where route B reads, and B writes where A reads (or a longer
 * ring), with nothing on the way that could stop a message. One message would then be bridged
 * around the ring for ever, as fast as the brokers go. A route that feeds itself is reported by
 * the route's own checks; routes with a filter or transform are taken to break the ring (a filter
 * on a header that `to.headers` sets is how bidirectional replication stops its echo).
 * Returns one problem per ring, at its first route.
 *
 * @example
 * ```ts
 * routeLoops(routes); // ['routes[0]: with routes[1] this route forms a loop: …']
 * ```
 */
export function routeLoops(routes: readonly RouteEnds[]): string[] {
  const candidates = routes.filter((r) => !r.canStop && patternProblems(r.fromTopic).length === 0);
  const problems: string[] = [];
  const reported = new Set<string>();
  let steps = 0;
  // Follows a sample message from where `path`'s last route wrote it (`topic` on `transport`).
  const follow = (path: RouteEnds[], transport: string, topic: string): RouteEnds[] | undefined => {
    for (const next of candidates) {
      if (++steps > MAX_STEPS) return undefined;
      if (next.fromTransport !== transport || !topicMatches(next.fromTopic, topic)) continue;
      if (next === path[0]) return path; // back where it started
      if (path.includes(next)) continue; // a ring that does not pass through path[0]: found from its own start
      const out = sampleRender(next.toTopic, topic);
      if (out === undefined || topicProblems(out).length > 0) continue;
      const ring = follow([...path, next], next.toTransport, out);
      if (ring) return ring;
    }
    return undefined;
  };
  for (const start of candidates) {
    const out = sampleRender(start.toTopic, sampleTopic(start.fromTopic));
    if (out === undefined || topicProblems(out).length > 0) continue;
    const ring = follow([start], start.toTransport, out);
    if (!ring || ring.length < 2) continue;
    const id = ring.map((r) => r.index).sort((a, b) => a - b).join(',');
    if (reported.has(id)) continue;
    reported.add(id);
    const first = ring.reduce((a, b) => (b.index < a.index ? b : a));
    const others = ring.filter((r) => r !== first).map((r) => `routes[${r.index}]`);
    const around = ring.map((r) => `"${r.name}" (${r.fromTransport}:${r.fromTopic} → ${r.toTransport}:${r.toTopic.source})`).join(', then ');
    problems.push(
      `routes[${first.index}]: with ${others.join(' and ')} this route forms a loop: ${around} brings every message back to where it started, to be bridged again, forever; ` +
        'send one of them elsewhere, or stop the echo with a filter (mark bridged messages with to.headers and filter out marked ones)',
    );
  }
  return problems;
}

/**
 * What a template gives for a message on `topic` with a key and any header; undefined when it
 * cannot be filled in.
 *
 * @example
 * ```ts
 * sampleRender(compileTemplate('audit.{headers.region}') as Template, 'orders.x'); // 'audit.x'
 * ```
 */
export function sampleRender(t: Template, topic: string): string | undefined {
  const headers = new Proxy<Record<string, string>>({}, { get: () => 'x', getOwnPropertyDescriptor: () => ({ value: 'x', enumerable: true, configurable: true }) });
  try {
    return t.render({ topic, key: 'key', id: 'id', headers });
  } catch {
    return undefined;
  }
}

/**
 * A concrete topic a pattern matches, to test templates and loops with.
 *
 * @example
 * ```ts
 * sampleTopic('orders.*'); // 'orders.x'
 * ```
 */
export function sampleTopic(pattern: string): string {
  return pattern
    .split('.')
    .map((t) => (t === '*' || t === '>' ? 'x' : t))
    .join('.');
}
