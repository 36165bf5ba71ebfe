import { ConfigError } from './errors.ts';

/**
 * Topic names are dot-separated tokens (`orders.placed`, `orders.updates.c-42`). A pattern may use
 * `*` for exactly one token and `>` (last token only) for one or more remaining tokens, as NATS
 * does; each transport maps patterns to its broker's own syntax.
 */

const TOKEN = /^[A-Za-z0-9_\-:@]+$/;
const MAX_LENGTH = 249; // Kafka's limit, the tightest of the brokers we map to

function nameProblems(kind: 'topic' | 'pattern', name: unknown): string[] {
  if (typeof name !== 'string' || name.length === 0) return [`${kind} must be a non-empty string, got ${JSON.stringify(name)}`];
  if (name.length > MAX_LENGTH) return [`${kind} "${name.slice(0, 40)}…" is longer than ${MAX_LENGTH} characters`];
  const tokens = name.split('.');
  const problems: string[] = [];
  tokens.forEach((token, i) => {
    if (token === '') problems.push(`${kind} "${name}" has an empty token (two dots, or a dot at an end)`);
    else if (kind === 'pattern' && token === '*') return;
    else if (kind === 'pattern' && token === '>') {
      if (i !== tokens.length - 1) problems.push(`pattern "${name}": ">" may only be the last token`);
    } else if (!TOKEN.test(token)) {
      problems.push(
        `${kind} "${name}": token "${token}" may only contain letters, digits, "_", "-", ":" and "@"` +
          (kind === 'topic' && (token.includes('*') || token.includes('>')) ? ' (wildcards are for subscriptions, not publishing)' : ''),
      );
    }
  });
  // One line per kind of problem: "a..b..c" has two empty tokens, but one thing to fix.
  return [...new Set(problems)];
}

/** Problems with a topic name to publish to (no wildcards); empty when it is valid. */
export function topicProblems(topic: unknown): string[] {
  return nameProblems('topic', topic);
}

/** Problems with a subscription topic, which may be a pattern; empty when it is valid. */
export function patternProblems(pattern: unknown): string[] {
  return nameProblems('pattern', pattern);
}

/** Throws ConfigError unless `topic` is a valid concrete topic name. */
export function assertTopic(topic: unknown): asserts topic is string {
  ConfigError.throwIfAny(topicProblems(topic));
}

/** True when the name contains `*` or `>` tokens. */
export function isPattern(name: string): boolean {
  return name.split('.').some((t) => t === '*' || t === '>');
}

/** Compiles a pattern into a predicate over topic names. */
export function topicMatcher(pattern: string): (topic: string) => boolean {
  if (!isPattern(pattern)) return (topic) => topic === pattern;
  const want = pattern.split('.');
  return (topic) => {
    const have = topic.split('.');
    for (let i = 0; i < want.length; i++) {
      const w = want[i];
      if (w === '>') return have.length > i;
      if (i >= have.length) return false;
      if (w !== '*' && w !== have[i]) return false;
    }
    return have.length === want.length;
  };
}

/** Whether `topic` matches `pattern` (`*` one token, `>` the rest). */
export function topicMatches(pattern: string, topic: string): boolean {
  return topicMatcher(pattern)(topic);
}

const GROUP = /^[A-Za-z0-9_\-.:@]+$/;

/** Problems with a consumer group name; empty when it is valid. */
export function groupProblems(group: unknown): string[] {
  if (typeof group !== 'string' || group.length === 0) return [`group must be a non-empty string, got ${JSON.stringify(group)}`];
  if (group.length > 200) return [`group "${group.slice(0, 40)}…" is longer than 200 characters`];
  if (!GROUP.test(group)) return [`group "${group}" may only contain letters, digits, ".", "_", "-", ":" and "@"`];
  return [];
}
