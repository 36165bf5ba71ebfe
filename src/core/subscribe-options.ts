import type { Capabilities } from './capabilities.ts';
import { ConfigError } from './errors.ts';
import { timerMsProblem } from './timer-limit.ts';
import { groupProblems, isPattern, patternProblems } from './topic.ts';
import type { Handler, SubscribeOptions } from './transport.ts';


/** Subscribe options with defaults applied. */
export interface ResolvedSubscribeOptions {
  group: string;
  from: 'earliest' | 'latest';
  concurrency: number;
  /** As given; undefined: the transport's own drain time applies. */
  drainTimeoutMs?: number;
}

/**
 * Checks a `subscribe` call against the contract and the transport's capabilities, reporting
 * every problem in one ConfigError, and fills in defaults.
 */
export function resolveSubscribeOptions(
  transport: { name: string; capabilities: Capabilities },
  topic: string,
  options: SubscribeOptions,
  handler: Handler,
): ResolvedSubscribeOptions {
  const problems = [...patternProblems(topic)];
  if (problems.length === 0 && isPattern(topic) && !transport.capabilities.wildcards) {
    problems.push(`the ${transport.name} transport does not support wildcard subscriptions ("${topic}")`);
  }
  if (typeof options !== 'object' || options === null) {
    problems.push('subscribe options are required: { group: "…" }');
    ConfigError.throwIfAny(problems);
  }
  problems.push(...groupProblems(options.group));
  const from = options.from ?? 'latest';
  if (from !== 'earliest' && from !== 'latest') problems.push(`from must be "earliest" or "latest", got ${JSON.stringify(from)}`);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    problems.push(`concurrency must be a whole number ≥ 1, got ${JSON.stringify(concurrency)}`);
  }
  const { drainTimeoutMs } = options;
  const drainProblem = timerMsProblem('drainTimeoutMs', drainTimeoutMs);
  if (drainProblem) problems.push(drainProblem);
  if (typeof handler !== 'function') problems.push('handler must be a function (message, context) => Promise<void>');
  ConfigError.throwIfAny(problems);
  return { group: options.group, from, concurrency, drainTimeoutMs };
}
