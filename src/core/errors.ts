/**
 * Switchyard's error classes. They are few, and they steer: the router retries what is
 * transient, dead-letters what is permanent, and reports configuration mistakes at once.
 *
 * Guards check `code` rather than `instanceof`, so they keep working when two copies of the
 * package end up in one process.
 */

import { inspect } from 'node:util';

/** Every code a Switchyard error can carry. */
export type ErrorCode =
  | 'SWITCHYARD'
  | 'PERMANENT'
  | 'DECODE'
  | 'VALIDATION'
  | 'TRANSPORT'
  | 'CONFIG'
  | 'CLOSED'
  | 'TIMEOUT'
  | 'CONCURRENCY'
  | 'CORRUPT_LOG';

/** Base class: a `code` to switch on and the `cause` that led to it. */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;

  constructor(message: string, options: { cause?: unknown; code?: ErrorCode } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SwitchyardError';
    this.code = options.code ?? 'SWITCHYARD';
  }
}

/**
 * Retrying cannot help: the message goes straight to the dead-letter destination.
 * Throw it from a handler for business rejections (like BullMQ's `UnrecoverableError`).
 */
export class PermanentError extends SwitchyardError {
  constructor(message: string, options: { cause?: unknown; code?: ErrorCode } = {}) {
    super(message, { code: 'PERMANENT', ...options });
    this.name = 'PermanentError';
  }
}

/** Where a message came from, for errors that are about one message. */
export interface MessageLocation {
  topic: string;
  messageId: string;
}

/** The payload's bytes could not be decoded by the codec (malformed JSON, wrong protobuf…). */
export class DecodeError extends PermanentError {
  readonly topic: string;
  readonly messageId: string;

  constructor(at: MessageLocation, reason: string, options: { cause?: unknown } = {}) {
    super(`cannot decode message ${at.messageId} on "${at.topic}": ${reason}`, { ...options, code: 'DECODE' });
    this.name = 'DecodeError';
    this.topic = at.topic;
    this.messageId = at.messageId;
  }
}

/** One problem a schema found, in Standard Schema's shape. */
export interface ValidationIssue {
  message: string;
  path?: ReadonlyArray<PropertyKey>;
}

/** The payload decoded but does not satisfy its schema. */
export class ValidationError extends PermanentError {
  readonly topic: string;
  readonly messageId: string;
  readonly issues: readonly ValidationIssue[];

  constructor(at: MessageLocation, issues: readonly ValidationIssue[]) {
    super(`message ${at.messageId} on "${at.topic}" failed validation: ${formatIssues(issues)}`, { code: 'VALIDATION' });
    this.name = 'ValidationError';
    this.topic = at.topic;
    this.messageId = at.messageId;
    this.issues = issues;
  }
}

function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues
    .map((issue) => (issue.path && issue.path.length > 0 ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** The broker or the connection to it failed. `retryable` says whether trying again may help. */
export class TransportError extends SwitchyardError {
  readonly retryable: boolean;

  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, { cause: options.cause, code: 'TRANSPORT' });
    this.name = 'TransportError';
    this.retryable = options.retryable ?? true;
  }
}

/**
 * Invalid configuration or arguments. Every problem found is reported at once:
 * `problems` lists them and the message joins them.
 */
export class ConfigError extends SwitchyardError {
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[], options: { cause?: unknown } = {}) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.length === 1 ? (list[0] ?? '') : `${list.length} problems:\n- ${list.join('\n- ')}`, {
      ...options,
      code: 'CONFIG',
    });
    this.name = 'ConfigError';
    this.problems = list;
  }

  /** Throws one ConfigError naming every problem, if there are any. */
  static throwIfAny(problems: readonly string[]): void {
    if (problems.length > 0) throw new ConfigError(problems);
  }
}

/**
 * The transport, subscription or router was closed, or the attempt a call belongs to has ended;
 * the operation was not carried out. `detail` says why and what to do.
 */
export class ClosedError extends SwitchyardError {
  constructor(what: string, options: { detail?: string; cause?: unknown } = {}) {
    super(`${what} is closed${options.detail ? `: ${options.detail}` : ''}`, { code: 'CLOSED', cause: options.cause });
    this.name = 'ClosedError';
  }
}

/** An operation did not finish within its deadline. */
export class TimeoutError extends SwitchyardError {
  readonly timeoutMs: number;

  constructor(what: string, timeoutMs: number, options: { cause?: unknown } = {}) {
    super(`${what} timed out after ${timeoutMs} ms`, { ...options, code: 'TIMEOUT' });
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** An optimistic-concurrency check failed: someone else wrote first. */
export class ConcurrencyError extends SwitchyardError {
  readonly expected: unknown;
  readonly actual: unknown;

  constructor(what: string, expected: unknown, actual: unknown) {
    super(`${what}: expected version ${String(expected)}, found ${String(actual)}`, { code: 'CONCURRENCY' });
    this.name = 'ConcurrencyError';
    this.expected = expected;
    this.actual = actual;
  }
}

function hasCode(error: unknown, codes: readonly ErrorCode[]): boolean {
  return typeof error === 'object' && error !== null && codes.includes((error as { code?: ErrorCode }).code as ErrorCode);
}

/** True for errors that retrying cannot fix (PermanentError, DecodeError, ValidationError). */
export function isPermanentError(error: unknown): error is PermanentError {
  return hasCode(error, ['PERMANENT', 'DECODE', 'VALIDATION']);
}

/** True for a ConfigError, from any copy of the package. */
export function isConfigError(error: unknown): error is ConfigError {
  return hasCode(error, ['CONFIG']);
}

/** True for a ClosedError, from any copy of the package. */
export function isClosedError(error: unknown): error is ClosedError {
  return hasCode(error, ['CLOSED']);
}

/** True for a TimeoutError, from any copy of the package. */
export function isTimeoutError(error: unknown): error is TimeoutError {
  return hasCode(error, ['TIMEOUT']);
}

/** True for a TransportError, from any copy of the package. */
export function isTransportError(error: unknown): error is TransportError {
  return hasCode(error, ['TRANSPORT']);
}

/** True for a ConcurrencyError, from any copy of the package. */
export function isConcurrencyError(error: unknown): error is ConcurrencyError {
  return hasCode(error, ['CONCURRENCY']);
}

/**
 * Turns anything thrown (a string, undefined, an object, a BigInt) into an Error, keeping Errors
 * as they are. Never throws itself: it runs on failure paths, where an error about describing the
 * error would replace what the handler threw.
 */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  if (typeof thrown === 'object' && thrown !== null && 'message' in thrown) {
    let message: unknown;
    try {
      message = (thrown as { message: unknown }).message;
    } catch {
      message = '(its message getter threw)';
    }
    return new SwitchyardError(describeThrown(message, false), { cause: thrown });
  }
  return new SwitchyardError(`non-error thrown: ${describeThrown(thrown, true)}`, { cause: thrown });
}

/** Text for a thrown value: strings as they are, JSON where it works, else util.inspect (BigInt, cycles). */
function describeThrown(value: unknown, json: boolean): string {
  if (typeof value === 'string') return value;
  if (json) {
    try {
      // JSON first: what these messages have always shown for plain objects, arrays and numbers.
      const text = JSON.stringify(value);
      if (text !== undefined) return text;
    } catch {
      // a BigInt, a cycle, a throwing toJSON: inspect copes with all of them
    }
  }
  try {
    return inspect(value, { depth: 2, breakLength: Infinity });
  } catch {
    return Object.prototype.toString.call(value);
  }
}
