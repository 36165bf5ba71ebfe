import { ConfigError } from '../../core/errors.ts';
import { topicProblems } from '../../core/topic.ts';
import { MAX_TIMER_MS } from '../../core/timer-limit.ts';
import { DEFAULT_MAX_HEADER_BYTES } from '../../internal/message-limits.ts';
import { tlsOptionProblems, type TlsConnectOptions } from '../../internal/transport-tls.ts';
import { defaultQueueName } from './mapping.ts';
import { queueSettingsProblems, topologyProblems, type QueueSettings, type RabbitMQTopology } from './topology.ts';

/**
 * Where a topic's messages go instead of the shared topic exchange, and which existing queue a
 * group reads. This is how native topology (a direct or fanout exchange, a queue declared with
 * TTL and dead-lettering) is used through the contract.
 */
export interface RabbitMQRoute {
  /** Exchange to publish to (declare it in `topology`, or it must exist). */
  exchange: string;
  /** Routing key for publishes, and binding key for group queues; default: the topic name. */
  routingKey?: string;
  /**
   * Groups that read an existing queue rather than their own `<topic>.<group>`:
   * `{ mailer: 'email' }`. Declare those queues in `topology`.
   */
  queues?: Record<string, string>;
}

/** What the transport reports besides errors thrown from calls. */
export type RabbitMQEvent =
  | { type: 'connected' }
  | { type: 'disconnected'; error: Error }
  | { type: 'blocked'; reason: string }
  | { type: 'unblocked' }
  | { type: 'topology-redeclared' }
  | { type: 'consumer-recovered'; queue: string }
  | { type: 'error'; error: Error; context: string };

/** Options of `rabbitmq()`. Everything has a default except what your broker needs. */
export interface RabbitMQOptions {
  /**
   * `amqp://user:pass@host:5672/vhost` or `amqps://…` (TLS). Default `SWITCHYARD_AMQP_URL`, else
   * `amqp://guest:guest@127.0.0.1:5672`. Keep the password out of code (environment, secret
   * store): Switchyard masks it in every error message and event.
   */
  url?: string;
  /**
   * TLS: `true`, or Node TLS options (`ca`, client `cert`/`key`, `servername`…). On by default for
   * `amqps://`. The server's certificate is always verified (chain and host name) unless
   * `{ dangerouslySkipVerify: true }`, which logs a warning; `rejectUnauthorized: false` is refused.
   */
  tls?: boolean | TlsConnectOptions;
  /** Unacknowledged messages a subscription may hold (AMQP `basic.qos`). Default max(2 × concurrency, 50). */
  prefetch?: number;
  /** Publisher confirms: `publish()` resolves once the broker has the messages. Default true. */
  confirm?: boolean;
  /**
   * Reject publishes that no queue receives (AMQP `mandatory`) with a TransportError. Default
   * false: in the contract, publishing to a topic nobody subscribed to yet is fine.
   */
  mandatory?: boolean;
  /** How long `publish()` may take before it rejects with TimeoutError. Default 30,000 ms. */
  publishTimeoutMs?: number;
  /** Tries per message when the connection drops before the broker confirmed it. Default 10. */
  publishAttempts?: number;
  /** Exchanges, queues and bindings declared on connect and after every reconnect. */
  topology?: RabbitMQTopology;
  /** Topics published to (and consumed from) native exchanges and queues, by topic name. */
  routes?: Record<string, RabbitMQRoute>;
  /** The durable topic exchange every other topic goes through. Default `switchyard.topics`. */
  exchange?: string;
  /** Settings of the queues created for groups (type, TTL, max length, dead-lettering…). Default a durable classic queue. */
  groupQueue?: QueueSettings;
  /** Name of a group's queue. Default `<topic>.<group>`. */
  queueName?: (topic: string, group: string) => string;
  /**
   * Wait before a failed message is delivered again, per attempt (the last value repeats), via
   * TTL retry queues that dead-letter back to the group's queue. Default [1,000, 5,000, 30,000] ms.
   */
  redeliveryDelaysMs?: number[];
  /** AMQP heartbeat in seconds; a silent connection is declared dead after about twice this. Default 10. */
  heartbeatSeconds?: number;
  /** Time limit of one connection attempt. Default 10,000 ms. */
  connectionTimeoutMs?: number;
  /** How long `connect()` keeps trying before it rejects. Default 15,000 ms. */
  connectTimeoutMs?: number;
  /** Reconnect backoff: first step and ceiling. Default 250 ms and 10,000 ms. */
  reconnectDelayMs?: { min?: number; max?: number };
  /**
   * How long `close()` lets in-flight handlers run before aborting their signal and giving up on
   * them (their messages are delivered again). Default 30,000 ms; `subscribe` may set its own.
   */
  drainTimeoutMs?: number;
  /**
   * Largest payload accepted by `publish()`. Default 16 MiB (RabbitMQ 4's `max_message_size`;
   * 3.x allows 128 MiB): raise it together with the broker's `max_message_size`.
   */
  maxPayloadBytes?: number;
  /**
   * Largest total size of a message's headers (names and values, UTF-8). Default 65,536.
   * Independently, headers, key and id must fit in one AMQP frame (131,072 bytes, 6 more per
   * header): `publish()` rejects messages that do not with a ConfigError.
   */
  maxHeaderBytes?: number;
  /** Connection name shown in the management UI. */
  connectionName?: string;
  /**
   * Base URL of the management HTTP API (`http://guest:guest@127.0.0.1:15672`); lets
   * `rabbitmqLag` count messages other consumers hold unacknowledged.
   */
  managementUrl?: string;
  /** Connection, topology and consumer events (reconnects, errors that were handled). */
  onEvent?: (event: RabbitMQEvent) => void;
}

/** Options with defaults applied. */
export interface ResolvedRabbitMQOptions {
  url: string;
  tls: boolean | TlsConnectOptions | undefined;
  prefetch: number | undefined;
  confirm: boolean;
  mandatory: boolean;
  publishTimeoutMs: number;
  publishAttempts: number;
  topology: RabbitMQTopology;
  routes: Record<string, RabbitMQRoute>;
  exchange: string;
  groupQueue: QueueSettings;
  queueName: (topic: string, group: string) => string;
  redeliveryDelaysMs: number[];
  heartbeatSeconds: number;
  connectionTimeoutMs: number;
  connectTimeoutMs: number;
  reconnectDelayMs: { min: number; max: number };
  drainTimeoutMs: number;
  maxPayloadBytes: number;
  maxHeaderBytes: number;
  connectionName: string;
  managementUrl: string | undefined;
  onEvent: (event: RabbitMQEvent) => void;
}

/** The URL used when none is given. */
export function defaultAmqpUrl(): string {
  return process.env.SWITCHYARD_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
}

const whole = (value: unknown, min: number): boolean => typeof value === 'number' && Number.isInteger(value) && value >= min;

/** Applies defaults and validates, reporting every problem in one ConfigError. */
export function resolveOptions(options: RabbitMQOptions = {}): ResolvedRabbitMQOptions {
  const problems: string[] = [];
  const url = options.url ?? defaultAmqpUrl();
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') problems.push(`url must start with amqp:// or amqps://, got "${parsed.protocol}//…"`);
  } catch {
    problems.push(`url is not a valid URL (${url.length} characters, not shown as it may hold a password): expected amqp://user:pass@host:5672/vhost`);
  }
  const check = (name: string, value: unknown, min: number): void => {
    if (value !== undefined && !whole(value, min)) problems.push(`${name} must be a whole number ≥ ${min}, got ${JSON.stringify(value)}`);
  };
  check('prefetch', options.prefetch, 1);
  if (options.prefetch !== undefined && whole(options.prefetch, 1) && options.prefetch > 65_535) problems.push('prefetch must be at most 65,535');
  check('publishTimeoutMs', options.publishTimeoutMs, 1);
  check('publishAttempts', options.publishAttempts, 1);
  check('heartbeatSeconds', options.heartbeatSeconds, 0);
  check('connectionTimeoutMs', options.connectionTimeoutMs, 1);
  check('connectTimeoutMs', options.connectTimeoutMs, 1);
  check('reconnectDelayMs.min', options.reconnectDelayMs?.min, 1);
  check('reconnectDelayMs.max', options.reconnectDelayMs?.max, 1);
  check('drainTimeoutMs', options.drainTimeoutMs, 0);
  check('maxPayloadBytes', options.maxPayloadBytes, 1);
  check('maxHeaderBytes', options.maxHeaderBytes, 1);
  const delays = options.redeliveryDelaysMs ?? [1_000, 5_000, 30_000];
  if (!Array.isArray(delays) || delays.some((d) => !whole(d, 0) || d > MAX_TIMER_MS)) {
    problems.push(`redeliveryDelaysMs must be a list of whole numbers of milliseconds ≥ 0, got ${JSON.stringify(delays)}`);
  }
  const exchange = options.exchange ?? 'switchyard.topics';
  if (typeof exchange !== 'string' || exchange === '' || exchange.startsWith('amq.')) problems.push(`exchange must be a non-empty name not starting with "amq.", got ${JSON.stringify(exchange)}`);
  const topology = options.topology ?? {};
  problems.push(...topologyProblems(topology));
  const groupQueue = options.groupQueue ?? {};
  problems.push(...queueSettingsProblems('groupQueue', groupQueue));
  if (groupQueue.exclusive || groupQueue.autoDelete) problems.push('groupQueue: group queues outlive their members, so they cannot be exclusive or auto-delete');
  const routes = options.routes ?? {};
  for (const [topic, route] of Object.entries(routes)) {
    problems.push(...topicProblems(topic).map((p) => `routes: ${p}`));
    if (typeof route?.exchange !== 'string') problems.push(`routes["${topic}"]: exchange must be a string (use "" for the default exchange)`);
    if (route?.routingKey !== undefined && (typeof route.routingKey !== 'string' || Buffer.byteLength(route.routingKey) > 255)) {
      problems.push(`routes["${topic}"]: routingKey must be a string of at most 255 bytes`);
    }
  }
  if (options.queueName !== undefined && typeof options.queueName !== 'function') problems.push('queueName must be a function (topic, group) => string');
  problems.push(...tlsOptionProblems('tls', options.tls));
  if (options.managementUrl !== undefined) problems.push(...managementUrlProblems(options.managementUrl));
  ConfigError.throwIfAny(problems);
  return {
    url,
    tls: options.tls,
    prefetch: options.prefetch,
    confirm: options.confirm ?? true,
    mandatory: options.mandatory ?? false,
    publishTimeoutMs: options.publishTimeoutMs ?? 30_000,
    publishAttempts: options.publishAttempts ?? 10,
    topology,
    routes,
    exchange,
    groupQueue,
    queueName: options.queueName ?? defaultQueueName,
    redeliveryDelaysMs: [...delays],
    heartbeatSeconds: options.heartbeatSeconds ?? 10,
    connectionTimeoutMs: options.connectionTimeoutMs ?? 10_000,
    connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
    reconnectDelayMs: { min: options.reconnectDelayMs?.min ?? 250, max: options.reconnectDelayMs?.max ?? 10_000 },
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    maxPayloadBytes: options.maxPayloadBytes ?? 16 * 1024 * 1024,
    maxHeaderBytes: options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES,
    connectionName: options.connectionName ?? `switchyard ${process.pid}`,
    managementUrl: options.managementUrl,
    onEvent: options.onEvent ?? (() => {}),
  };
}

/**
 * What is wrong with a management API URL, checked when the options are read (not at the first lag
 * reading). The URL is never shown: it may hold the management user's password.
 */
function managementUrlProblems(value: unknown): string[] {
  const expected = 'expected http(s)://user:pass@host:15672';
  if (typeof value !== 'string') return [`managementUrl must be a string: ${expected}`];
  let url: URL;
  try {
    url = new URL(value);
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return [`managementUrl is not a URL (${value.length} characters, not shown as it may hold a password): ${expected}`];
  }
  return url.protocol === 'http:' || url.protocol === 'https:' ? [] : [`managementUrl must be http: or https:, got ${url.protocol}: ${expected}`];
}
