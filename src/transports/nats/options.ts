import { ConfigError } from '../../core/errors.ts';
import type { Message } from '../../core/message.ts';
import { patternProblems } from '../../core/topic.ts';
import { DEFAULT_MAX_HEADER_BYTES } from '../../internal/message-limits.ts';
import { tlsOptionProblems, type SkipVerifyOption } from '../../internal/transport-tls.ts';

/** How a JetStream stream keeps messages (`retention` in the stream config). */
export type NatsRetention = 'limits' | 'interest' | 'workqueue';

/**
 * Limits and storage of a JetStream stream. Absent fields take the server's defaults. Those set are
 * applied to a stream that exists already too (see docs/nats.md); `storage` cannot change there.
 */
export interface NatsStreamLimits {
  /** `limits` (default): keep until a limit drops them; `interest`: until every consumer acked; `workqueue`: until one did. */
  retention?: NatsRetention;
  /** Drop messages older than this, in ms. Default: never. */
  maxAgeMs?: number;
  /** Drop the oldest messages beyond this many bytes. Default: unlimited. */
  maxBytes?: number;
  /** Drop the oldest messages beyond this count. Default: unlimited. */
  maxMessages?: number;
  /** `file` (default, survives a server restart) or `memory`. */
  storage?: 'file' | 'memory';
  /** Copies in a cluster (1–5). Default 1. */
  replicas?: number;
  /**
   * How long the server remembers message ids to drop re-publishes (`Nats-Msg-Id`), in ms; at most
   * `maxAgeMs`. Default 120,000, or `maxAgeMs` when that is shorter. JetStream cannot switch it off.
   */
  duplicateWindowMs?: number;
}

/** A stream declared by the application: its subjects decide which topics it holds. */
export interface NatsStreamDeclaration extends NatsStreamLimits {
  /** Stream name (no `.`, `*`, `>`, spaces or slashes). */
  name: string;
  /** Subjects (topics or patterns) the stream captures, e.g. `['orders.>']`. */
  subjects: string[];
}

/**
 * Settings of the durable consumer created for each group. Applied to an existing consumer too
 * when they changed since it was created (all but an unset `maxAckPending`).
 */
export interface NatsConsumerOptions {
  /** How long the server waits for an ack before delivering again, in ms. Default 30,000. */
  ackWaitMs?: number;
  /**
   * Deliveries before JetStream gives up on a message (it stays in the stream). Default unlimited (-1).
   * Such a message is reported in a `max-deliveries` status (and dead-lettered with `deadLetterTopic`).
   */
  maxDeliver?: number;
  /** JetStream redelivery delays after ack timeouts (`backoff`), in ms; needs `maxDeliver` greater than its length. */
  backoffMs?: number[];
  /** Unacknowledged messages the server lets a group have in flight. Default: the server's (1,000 on 2.9). */
  maxAckPending?: number;
  /**
   * Delay before a message whose handler threw is delivered again (`nak` with delay), in ms: a number, or a
   * list indexed by attempt (the last entry repeats). Default `[100, 500, 2_000, 5_000]`.
   */
  redeliveryDelayMs?: number | number[];
  /** Messages pulled ahead of the handlers per subscription. Default `max(64, 4 × concurrency)`. */
  prefetch?: number;
  /**
   * The server deletes a group's durable consumer after this long with no reader
   * (`inactive_threshold`). Default: never — a group keeps its place however long it is away.
   */
  inactiveThresholdMs?: number;
  /**
   * Where a message that reached `maxDeliver` is published, with `x-error` and the other dead-letter
   * headers (as `deadLetter()` writes them), e.g. `` (m) => `${m.topic}.dlq` ``. Unset: it is reported
   * in a `max-deliveries` status only (and stays in the stream). See docs/nats.md.
   */
  deadLetterTopic?: (message: Message) => string;
}

/** Reconnection and liveness settings of the NATS connection. */
export interface NatsReconnectOptions {
  /** Reconnect attempts before the connection is given up (-1: forever). Default -1. */
  maxReconnects?: number;
  /** Wait between attempts on one server, in ms. Default 2,000. */
  waitMs?: number;
  /** Random extra wait up to this many ms. Default 100 (1,000 for TLS per the client's default). */
  jitterMs?: number;
  /** Client ping interval, in ms: a silent connection is noticed after `pingIntervalMs × (maxPingsOut + 1)`. Default 10,000. */
  pingIntervalMs?: number;
  /** Unanswered pings before the connection counts as stale and is re-established. Default 2. */
  maxPingsOut?: number;
  /** How long one (re)connection attempt may take before it counts as failed, in ms. Default 10,000. */
  connectTimeoutMs?: number;
}

/**
 * TLS settings (passed to Node's `tls.connect`). The server's certificate is always verified
 * against `ca` (default: Node's trusted roots) and the host name of the server URL, unless
 * `dangerouslySkipVerify` says otherwise. A `tls://` server URL asks for TLS too.
 */
export interface NatsTlsOptions extends SkipVerifyOption {
  /** PEM text of the CA, client certificate and key, or file paths through `*File`. */
  ca?: string;
  cert?: string;
  key?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** Start TLS before the NATS INFO line (server `handshake_first`). */
  handshakeFirst?: boolean;
}

/**
 * Credentials: user/password, a token, or an NKey seed / creds file text. Take them from the
 * environment or a secret store, not from code; Switchyard never logs them and redacts them from
 * error messages.
 */
export type NatsAuth =
  | { user: string; pass: string }
  | { token: string }
  | { nkeySeed: string }
  | { creds: string };

/** Options of `nats(...)`. */
export interface NatsOptions {
  /** Server URLs, e.g. `'nats://127.0.0.1:4222'`. Default `$SWITCHYARD_NATS_URL` or `nats://127.0.0.1:4222`. */
  servers?: string | string[];
  /** `jetstream` (durable, at-least-once; the default) or `core` (fast, at-most-once, nothing stored). */
  mode?: 'jetstream' | 'core';
  /** Connection name shown by the server's monitoring. Default `switchyard`. */
  name?: string;
  /** Streams the application declares; topics not covered get a stream per first token (see docs/nats.md). */
  streams?: NatsStreamDeclaration[];
  /** Limits of the streams the transport creates itself. */
  defaultStream?: NatsStreamLimits;
  /** Prefix of the streams the transport creates. Default `SY_`. */
  streamPrefix?: string;
  /** Durable consumer settings. */
  consumers?: NatsConsumerOptions;
  reconnect?: NatsReconnectOptions;
  tls?: NatsTlsOptions;
  auth?: NatsAuth;
  /** Outstanding JetStream publish acks per `publish` call. Default 256. */
  publishWindow?: number;
  /**
   * How long one JetStream publish keeps retrying (same message id, so the server drops copies) through
   * timeouts and outages before it rejects with TransportError, in ms. Default 60,000.
   */
  publishTimeoutMs?: number;
  /** Wait for one JetStream publish ack before trying again, in ms. Default 5,000. */
  ackTimeoutMs?: number;
  /**
   * How long `close()` lets in-flight handlers run before aborting their signal and giving up on
   * them (their messages are delivered again). Default 30,000 ms; `subscribe` may set its own.
   */
  drainTimeoutMs?: number;
  /**
   * Largest payload `publish()` accepts. Default: the server's `max_payload` (which also counts
   * headers) once connected, 1,048,576 before. A value you set applies on top of the server's.
   */
  maxPayloadBytes?: number;
  /** Largest total size of a message's headers (names and values, UTF-8). Default 65,536. */
  maxHeaderBytes?: number;
  /** Core mode: received messages buffered per subscription before new ones are dropped (slow consumer). Default 65,536. */
  maxBufferedMessages?: number;
}

/** Options with every default filled in. */
export interface ResolvedNatsOptions {
  servers: string[];
  mode: 'jetstream' | 'core';
  name: string;
  streams: NatsStreamDeclaration[];
  defaultStream: NatsStreamLimits;
  streamPrefix: string;
  consumers: Required<Omit<NatsConsumerOptions, 'backoffMs' | 'maxAckPending' | 'prefetch' | 'inactiveThresholdMs' | 'deadLetterTopic'>> &
    Pick<NatsConsumerOptions, 'backoffMs' | 'maxAckPending' | 'prefetch' | 'inactiveThresholdMs' | 'deadLetterTopic'>;
  reconnect: Required<NatsReconnectOptions>;
  tls: NatsTlsOptions | undefined;
  auth: NatsAuth | undefined;
  publishWindow: number;
  publishTimeoutMs: number;
  ackTimeoutMs: number;
  drainTimeoutMs: number;
  maxPayloadBytes: number;
  /** The `maxPayloadBytes` the caller set, if any (the server's `max_payload` applies otherwise). */
  maxPayloadBytesSet: number | undefined;
  maxHeaderBytes: number;
  maxBufferedMessages: number;
}

/** The server used when neither `servers` nor `SWITCHYARD_NATS_URL` says otherwise. */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

const STREAM_NAME = /^[^\s.*>/\\]+$/;

function positive(problems: string[], name: string, value: unknown, { allowZero = false, allowMinusOne = false } = {}): void {
  if (value === undefined) return;
  const ok =
    typeof value === 'number' && Number.isFinite(value) && (value > 0 || (allowZero && value === 0) || (allowMinusOne && value === -1));
  if (!ok) problems.push(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number${allowMinusOne ? ' (or -1)' : ''}, got ${JSON.stringify(value)}`);
}

function limitProblems(problems: string[], where: string, s: NatsStreamLimits): void {
  if (s.retention !== undefined && !['limits', 'interest', 'workqueue'].includes(s.retention)) {
    problems.push(`${where}.retention must be "limits", "interest" or "workqueue", got ${JSON.stringify(s.retention)}`);
  }
  if (s.storage !== undefined && s.storage !== 'file' && s.storage !== 'memory') {
    problems.push(`${where}.storage must be "file" or "memory", got ${JSON.stringify(s.storage)}`);
  }
  positive(problems, `${where}.maxAgeMs`, s.maxAgeMs);
  positive(problems, `${where}.maxBytes`, s.maxBytes, { allowMinusOne: true });
  positive(problems, `${where}.maxMessages`, s.maxMessages, { allowMinusOne: true });
  if (s.duplicateWindowMs === 0) {
    problems.push(`${where}.duplicateWindowMs cannot be 0: JetStream cannot switch de-duplication off (0 means its 2-minute default); give a short window, e.g. 1000`);
  } else positive(problems, `${where}.duplicateWindowMs`, s.duplicateWindowMs);
  if (typeof s.duplicateWindowMs === 'number' && typeof s.maxAgeMs === 'number' && s.duplicateWindowMs > s.maxAgeMs) {
    problems.push(
      `${where}.duplicateWindowMs (${s.duplicateWindowMs}) must not exceed ${where}.maxAgeMs (${s.maxAgeMs}): JetStream refuses to remember ids longer than it keeps messages; ` +
        'lower it, or leave it out to get the shorter of 2 minutes and maxAgeMs',
    );
  }
  if (s.replicas !== undefined && (!Number.isInteger(s.replicas) || s.replicas < 1 || s.replicas > 5)) {
    problems.push(`${where}.replicas must be a whole number from 1 to 5, got ${JSON.stringify(s.replicas)}`);
  }
}

/**
 * Fills in defaults and checks every option, throwing one ConfigError that names each problem.
 * `env` is the process environment (a parameter so tests can pass their own).
 */
export function resolveNatsOptions(options: NatsOptions = {}, env: Record<string, string | undefined> = process.env): ResolvedNatsOptions {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) throw new ConfigError('nats options must be an object');
  const rawServers = options.servers ?? env['SWITCHYARD_NATS_URL'] ?? DEFAULT_NATS_URL;
  const servers = (Array.isArray(rawServers) ? rawServers : String(rawServers).split(',')).map((s) => String(s).trim()).filter(Boolean);
  if (servers.length === 0) problems.push('servers must name at least one NATS server, e.g. "nats://127.0.0.1:4222"');
  servers.forEach((s, i) => {
    // host:port without a scheme takes no credentials: "user:pass@host:port" must be a URL, so
    // they are masked wherever it is shown.
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$/.test(s) && !/^[^\s/:@]+:\d+$/.test(s)) {
      // Shown only when it cannot hold credentials: a mistyped "nats//user:pass@host" would print them.
      const shown = s.includes('@') ? `${i + 1} (${s.length} characters, not shown as it may hold credentials)` : `"${s}"`;
      problems.push(`server ${shown} is not a NATS URL (expected nats://host:port, nats://user:pass@host:port or host:port)`);
    }
  });
  const mode = options.mode ?? 'jetstream';
  if (mode !== 'jetstream' && mode !== 'core') problems.push(`mode must be "jetstream" or "core", got ${JSON.stringify(mode)}`);
  const streamPrefix = options.streamPrefix ?? 'SY_';
  if (!/^[A-Za-z0-9_-]*$/.test(streamPrefix)) problems.push(`streamPrefix may only contain letters, digits, "_" and "-", got ${JSON.stringify(streamPrefix)}`);

  const streams = options.streams ?? [];
  if (!Array.isArray(streams)) problems.push('streams must be an array of { name, subjects, ...limits }');
  else {
    const names = new Set<string>();
    streams.forEach((s, i) => {
      const where = `streams[${i}]`;
      if (typeof s?.name !== 'string' || !STREAM_NAME.test(s.name)) {
        problems.push(`${where}.name must be a stream name without ".", "*", ">", spaces or slashes, got ${JSON.stringify(s?.name)}`);
      } else if (names.has(s.name)) problems.push(`${where}.name "${s.name}" is declared twice`);
      else names.add(s.name);
      if (!Array.isArray(s?.subjects) || s.subjects.length === 0) problems.push(`${where}.subjects must list at least one subject, e.g. ["orders.>"]`);
      else for (const subject of s.subjects) problems.push(...patternProblems(subject).map((p) => `${where}.subjects: ${p}`));
      limitProblems(problems, where, s ?? {});
    });
  }
  const defaultStream = options.defaultStream ?? {};
  limitProblems(problems, 'defaultStream', defaultStream);

  const c = options.consumers ?? {};
  positive(problems, 'consumers.ackWaitMs', c.ackWaitMs);
  if (c.ackWaitMs !== undefined && c.ackWaitMs < 1_000) problems.push(`consumers.ackWaitMs must be at least 1,000 ms, got ${c.ackWaitMs}`);
  positive(problems, 'consumers.maxDeliver', c.maxDeliver, { allowMinusOne: true });
  positive(problems, 'consumers.maxAckPending', c.maxAckPending, { allowMinusOne: true });
  positive(problems, 'consumers.prefetch', c.prefetch);
  positive(problems, 'consumers.inactiveThresholdMs', c.inactiveThresholdMs);
  if (c.backoffMs !== undefined) {
    if (!Array.isArray(c.backoffMs) || c.backoffMs.some((n) => typeof n !== 'number' || !(n > 0))) {
      problems.push('consumers.backoffMs must be a list of positive delays in ms');
    } else if (c.maxDeliver === undefined || c.maxDeliver === -1 || c.maxDeliver <= c.backoffMs.length) {
      problems.push(`consumers.backoffMs needs consumers.maxDeliver greater than its length (${c.backoffMs.length}); JetStream rejects it otherwise`);
    }
  }
  if (c.deadLetterTopic !== undefined && typeof c.deadLetterTopic !== 'function') {
    problems.push('consumers.deadLetterTopic must be a function (message) => topic, e.g. (m) => `${m.topic}.dlq`');
  }
  const delays = c.redeliveryDelayMs ?? [100, 500, 2_000, 5_000];
  const delayList = Array.isArray(delays) ? delays : [delays];
  if (delayList.length === 0 || delayList.some((n) => typeof n !== 'number' || !Number.isFinite(n) || n < 0)) {
    problems.push(`consumers.redeliveryDelayMs must be a non-negative number or a non-empty list of them, got ${JSON.stringify(delays)}`);
  }

  const r = options.reconnect ?? {};
  positive(problems, 'reconnect.maxReconnects', r.maxReconnects, { allowZero: true, allowMinusOne: true });
  positive(problems, 'reconnect.waitMs', r.waitMs, { allowZero: true });
  positive(problems, 'reconnect.jitterMs', r.jitterMs, { allowZero: true });
  positive(problems, 'reconnect.pingIntervalMs', r.pingIntervalMs);
  positive(problems, 'reconnect.maxPingsOut', r.maxPingsOut);
  positive(problems, 'reconnect.connectTimeoutMs', r.connectTimeoutMs);

  if (options.auth !== undefined) {
    const a = options.auth as Record<string, unknown>;
    const kinds = ['user', 'token', 'nkeySeed', 'creds'].filter((k) => typeof a?.[k] === 'string');
    if (kinds.length !== 1) problems.push('auth must be exactly one of { user, pass }, { token }, { nkeySeed } or { creds }');
    else if (kinds[0] === 'user' && typeof a['pass'] !== 'string') problems.push('auth.pass must be a string when auth.user is given');
  }

  positive(problems, 'publishWindow', options.publishWindow);
  positive(problems, 'publishTimeoutMs', options.publishTimeoutMs);
  positive(problems, 'ackTimeoutMs', options.ackTimeoutMs);
  positive(problems, 'drainTimeoutMs', options.drainTimeoutMs, { allowZero: true });
  positive(problems, 'maxPayloadBytes', options.maxPayloadBytes);
  positive(problems, 'maxHeaderBytes', options.maxHeaderBytes);
  if (options.tls !== undefined && (typeof options.tls !== 'object' || options.tls === null)) problems.push('tls must be an object of TLS options, e.g. { ca }');
  else problems.push(...tlsOptionProblems('tls', options.tls));
  positive(problems, 'maxBufferedMessages', options.maxBufferedMessages);
  ConfigError.throwIfAny(problems);

  return {
    servers,
    mode,
    name: options.name ?? 'switchyard',
    streams,
    defaultStream,
    streamPrefix,
    consumers: {
      ackWaitMs: c.ackWaitMs ?? 30_000,
      maxDeliver: c.maxDeliver ?? -1,
      redeliveryDelayMs: delays,
      backoffMs: c.backoffMs,
      maxAckPending: c.maxAckPending,
      prefetch: c.prefetch,
      inactiveThresholdMs: c.inactiveThresholdMs,
      deadLetterTopic: c.deadLetterTopic,
    },
    reconnect: {
      maxReconnects: r.maxReconnects ?? -1,
      waitMs: r.waitMs ?? 2_000,
      jitterMs: r.jitterMs ?? 100,
      pingIntervalMs: r.pingIntervalMs ?? 10_000,
      maxPingsOut: r.maxPingsOut ?? 2,
      connectTimeoutMs: r.connectTimeoutMs ?? 10_000,
    },
    tls: options.tls,
    auth: options.auth,
    publishWindow: options.publishWindow ?? 256,
    publishTimeoutMs: options.publishTimeoutMs ?? 60_000,
    ackTimeoutMs: options.ackTimeoutMs ?? 5_000,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    maxPayloadBytes: options.maxPayloadBytes ?? 1_048_576,
    maxPayloadBytesSet: options.maxPayloadBytes,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    maxBufferedMessages: options.maxBufferedMessages ?? 65_536,
  };
}

/** The delay before redelivering a message whose `attempt` just failed. */
export function redeliveryDelay(delays: number | number[], attempt: number): number {
  if (!Array.isArray(delays)) return delays;
  return delays[Math.min(Math.max(attempt, 1), delays.length) - 1] ?? 0;
}
