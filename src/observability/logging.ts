import { toError } from '../core/errors.ts';
import { redact as maskUrlPasswords } from '../core/redact.ts';
import type { Message } from '../core/message.ts';
import type { Logger, Middleware, RouterContext } from '../router/types.ts';

/** The part of a pino logger the adapter uses (pino 9 and 10 have it). */
export interface PinoLike {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  /** Whether `level` is logged (pino has it): when it says no, the adapter does not clean fields for nothing. */
  isLevelEnabled?(level: string): boolean;
}

/**
 * Field names whose values are never logged (compared case-insensitively, ignoring `-` and `_`); a
 * name ending in one of them counts too (`clientSecret`, `x-api-key`, `dbPassword`).
 */
export const REDACTED_FIELDS: readonly string[] = Object.freeze(['payload', 'body', 'password', 'passwd', 'secret', 'token', 'accesstoken', 'refreshtoken', 'authorization', 'apikey', 'credentials', 'cookie', 'sasl', 'privatekey', 'passphrase', 'secretkey', 'accesskey']);

/** Settings of `pinoLogger()`. */
export interface PinoLoggerOptions {
  /** More field names to redact, or `false` to log fields as given. Default: `REDACTED_FIELDS` only. */
  redact?: readonly string[] | false;
}

const normalize = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');

/**
 * `text` with the credentials `redact()` finds masked: URL passwords and NATS tokens (both need an
 * "@"), credential query parameters and `password=…` keywords (both need an "="). The `includes`
 * tests spare most strings the regexes.
 */
const maskSecrets = (text: string): string => (text.includes('@') || text.includes('=') ? maskUrlPasswords(text) : text);

/**
 * Makes fields safe to log: values of credential and payload fields become `[redacted]`, and in
 * strings and `URL` objects the credentials `redact()` finds — URL passwords (`amqp://user:secret@host`),
 * NATS tokens (`nats://token@host`), credential query parameters (`?password=…`) and keywords
 * (`password=…`) — become `***`, the rest of each URL staying readable; byte arrays show only their
 * size, dates their ISO form, errors their name, message,
 * `code` (a string or number) and `cause` (cleaned the same way). Nested objects and cause chains
 * are cleaned to a depth of 4.
 *
 * @example
 * ```ts
 * safeFields({ url: 'amqp://guest:guest@localhost', password: 'x' }); // { url: 'amqp://guest:***@localhost', password: '[redacted]' }
 * ```
 */
export function safeFields(fields: Record<string, unknown>, redact: readonly string[] = REDACTED_FIELDS): Record<string, unknown> {
  const names = [...new Set(redact.map(normalize))];
  // By suffix, not only whole names: credentials mostly come qualified (clientSecret, x-api-key).
  const secret = (key: string): boolean => {
    const k = normalize(key);
    return names.some((n) => k.endsWith(n));
  };
  const clean = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return maskSecrets(value);
    if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
    // Their fields are not their value: Object.entries() would make them {}.
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (value instanceof URL) return maskSecrets(value.href);
    if (value instanceof Error) return cleanError(value, depth);
    if (typeof value !== 'object' || value === null) return value;
    if (depth >= 4) return '[object]';
    if (Array.isArray(value)) return value.map((v) => clean(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = secret(k) ? '[redacted]' : clean(v, depth + 1);
    return out;
  };
  // Name and message, with the error `code` (ECONNREFUSED) and the `cause` chain, which often say
  // more than the message; not the stack or other own fields, which may hold anything.
  const cleanError = (error: Error, depth: number): Record<string, unknown> => {
    const out: Record<string, unknown> = { name: error.name, message: clean(error.message, depth) };
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') out.code = maskSecrets(code);
    else if (typeof code === 'number') out.code = code;
    // Depth-bounded like nested objects: a cause chain can be long, or loop back on itself.
    if (error.cause !== undefined) out.cause = depth >= 4 ? '[cause]' : clean(error.cause, depth + 1);
    return out;
  };
  return clean(fields, 0) as Record<string, unknown>;
}

/**
 * Adapts a pino logger to Switchyard's `Logger` (for `new Router({ logger })`, `lagMonitor`,
 * `alertRules`). Fields go to pino as structured data, cleaned by `safeFields()`, and the message
 * text gets the same masking of credentials (`redact()`: URL passwords, NATS tokens, `password=…`): credentials and
 * payloads are never logged unless `redact: false`. A level the pino logger has off costs no
 * cleaning (when it has `isLevelEnabled()`, as pino does).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const router = new Router({ logger: pinoLogger(pino({ level: 'info' })) });
 * ```
 */
export function pinoLogger(pino: PinoLike, options: PinoLoggerOptions = {}): Logger {
  const redact = options.redact === false ? undefined : [...REDACTED_FIELDS, ...(options.redact ?? [])];
  const prepare = (fields: Record<string, unknown> | undefined): object => (fields === undefined ? {} : redact ? safeFields(fields, redact) : fields);
  // Messages are built from error texts too (`closing transport "x" failed: …`), not fields alone.
  const text = (message: string): string => (redact ? maskSecrets(message) : message);
  // Cleaning fields walks them all: not for a level pino drops anyway (debug, mostly).
  const enabled = typeof pino.isLevelEnabled === 'function' ? (level: string): boolean => pino.isLevelEnabled!(level) : (): boolean => true;
  return {
    debug: (message, fields) => {
      if (enabled('debug')) pino.debug(prepare(fields), text(message));
    },
    info: (message, fields) => {
      if (enabled('info')) pino.info(prepare(fields), text(message));
    },
    warn: (message, fields) => {
      if (enabled('warn')) pino.warn(prepare(fields), text(message));
    },
    error: (message, fields) => {
      if (enabled('error')) pino.error(prepare(fields), text(message));
    },
  };
}

/**
 * The structured fields that identify a delivery in logs: transport, topic, group, handler,
 * message id and attempt. Never the payload, headers or key (they may hold personal data).
 *
 * @example
 * ```ts
 * ctx.logger.info('charged', { ...messageFields(msg, ctx), amount });
 * ```
 */
export function messageFields(message: Pick<Message, 'topic' | 'id' | 'attempt' | 'partition' | 'offset'>, ctx?: Pick<RouterContext, 'from' | 'group' | 'handler' | 'attempt'>): Record<string, unknown> {
  return {
    ...(ctx ? { transport: ctx.from.name, group: ctx.group, handler: ctx.handler } : {}),
    topic: message.topic,
    messageId: message.id,
    attempt: ctx?.attempt ?? message.attempt,
    ...(message.partition !== undefined ? { partition: message.partition } : {}),
    ...(message.offset !== undefined ? { offset: message.offset } : {}),
  };
}

/**
 * Router middleware that logs each delivery through `ctx.logger` with `messageFields()` and its
 * duration: successes at `level` (default `'debug'`), failures at `warn` with the error message.
 *
 * @example
 * ```ts
 * router.use(metrics({ registry }), tracing(), logging({ level: 'info' }), retry());
 * ```
 */
export function logging(options: { level?: 'debug' | 'info' } = {}): Middleware {
  const level = options.level ?? 'debug';
  return async function logging(msg, ctx, next) {
    const started = performance.now();
    try {
      await next();
      ctx.logger[level]('message handled', { ...messageFields(msg, ctx), durationMs: Math.round((performance.now() - started) * 1000) / 1000 });
    } catch (error) {
      ctx.logger.warn('message failed', { ...messageFields(msg, ctx), durationMs: Math.round((performance.now() - started) * 1000) / 1000, error: toError(error).message });
      throw error;
    }
  };
}
