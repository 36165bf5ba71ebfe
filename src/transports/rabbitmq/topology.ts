import type { Channel } from 'rabbitmq-client';
import { inequivalentQueue } from './queue-conflicts.ts';

/**
 * Native RabbitMQ topology: exchanges, queues and bindings declared when the transport connects
 * and declared again after every reconnect. Plain data, so it can live in configuration.
 */

/** An exchange. `durable` defaults to true. */
export interface ExchangeSpec {
  name: string;
  type: 'direct' | 'fanout' | 'topic' | 'headers';
  durable?: boolean;
  autoDelete?: boolean;
  /** Only reachable through exchange-to-exchange bindings, never by publishers. */
  internal?: boolean;
  /** Where messages go that this exchange cannot route (`alternate-exchange`). */
  alternateExchange?: string;
  /** Any other `x-…` arguments, passed through unchanged. */
  arguments?: Record<string, unknown>;
}

/** What a full queue does with a new message (`x-overflow`). */
export type OverflowPolicy = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** The settings of a queue, without its name: used for declared queues and for group queues. */
export interface QueueSettings {
  /** `classic` (default) or `quorum` (replicated; always durable). */
  type?: 'classic' | 'quorum';
  /** Default true. */
  durable?: boolean;
  autoDelete?: boolean;
  exclusive?: boolean;
  /** Messages older than this are dropped or dead-lettered (`x-message-ttl`). */
  messageTtlMs?: number;
  /** The queue itself is deleted after this long without consumers (`x-expires`). */
  expiresMs?: number;
  /** Most messages kept (`x-max-length`); `overflow` says what happens beyond it. */
  maxLength?: number;
  /** Most bytes of message bodies kept (`x-max-length-bytes`). */
  maxLengthBytes?: number;
  /** Default `drop-head` (the oldest message is dropped or dead-lettered). */
  overflow?: OverflowPolicy;
  /** Expired, overflowed and rejected messages are republished here (`x-dead-letter-exchange`); `''` is the default exchange. */
  deadLetterExchange?: string;
  /** Routing key for dead-lettered messages; default: their own (`x-dead-letter-routing-key`). */
  deadLetterRoutingKey?: string;
  /** Only one consumer receives at a time; the others take over when it leaves (`x-single-active-consumer`). */
  singleActiveConsumer?: boolean;
  /** Any other `x-…` arguments, passed through unchanged. */
  arguments?: Record<string, unknown>;
}

/** A queue to declare. */
export interface QueueSpec extends QueueSettings {
  name: string;
}

/** A binding from an exchange to a queue (or, with `toExchange`, to another exchange). */
export interface BindingSpec {
  exchange: string;
  queue?: string;
  toExchange?: string;
  /** Routing key (direct), pattern with `*` and `#` (topic); ignored by fanout. Default `''`. */
  routingKey?: string;
  /** Binding arguments; for headers exchanges, e.g. `{ 'x-match': 'all', region: 'eu' }`. */
  arguments?: Record<string, unknown>;
}

/** Everything to declare up front. */
export interface RabbitMQTopology {
  exchanges?: ExchangeSpec[];
  queues?: QueueSpec[];
  bindings?: BindingSpec[];
}

const EXCHANGE_TYPES = ['direct', 'fanout', 'topic', 'headers'];
const OVERFLOW = ['drop-head', 'reject-publish', 'reject-publish-dlx'];

/** The `x-…` arguments a queue is declared with. */
export function queueArguments(settings: QueueSettings): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  if (settings.type === 'quorum') args['x-queue-type'] = 'quorum';
  if (settings.messageTtlMs !== undefined) args['x-message-ttl'] = settings.messageTtlMs;
  if (settings.expiresMs !== undefined) args['x-expires'] = settings.expiresMs;
  if (settings.maxLength !== undefined) args['x-max-length'] = settings.maxLength;
  if (settings.maxLengthBytes !== undefined) args['x-max-length-bytes'] = settings.maxLengthBytes;
  if (settings.overflow !== undefined) args['x-overflow'] = settings.overflow;
  if (settings.deadLetterExchange !== undefined) args['x-dead-letter-exchange'] = settings.deadLetterExchange;
  if (settings.deadLetterRoutingKey !== undefined) args['x-dead-letter-routing-key'] = settings.deadLetterRoutingKey;
  if (settings.singleActiveConsumer) args['x-single-active-consumer'] = true;
  return { ...args, ...settings.arguments };
}

/** The `queue.declare` parameters for a queue. */
export function queueDeclaration(name: string, settings: QueueSettings) {
  const quorum = settings.type === 'quorum';
  return {
    queue: name,
    durable: quorum ? true : (settings.durable ?? true),
    autoDelete: settings.autoDelete ?? false,
    exclusive: settings.exclusive ?? false,
    arguments: queueArguments(settings),
  };
}

/** The `exchange.declare` parameters for an exchange. */
export function exchangeDeclaration(spec: ExchangeSpec) {
  const args: Record<string, unknown> = { ...spec.arguments };
  if (spec.alternateExchange !== undefined) args['alternate-exchange'] = spec.alternateExchange;
  return {
    exchange: spec.name,
    type: spec.type,
    durable: spec.durable ?? true,
    autoDelete: spec.autoDelete ?? false,
    internal: spec.internal ?? false,
    arguments: args,
  };
}

const isWhole = (n: unknown, min: number): boolean => typeof n === 'number' && Number.isInteger(n) && n >= min;

/** Problems with one queue's settings; `where` names it in the messages. */
export function queueSettingsProblems(where: string, s: QueueSettings): string[] {
  const problems: string[] = [];
  if (s.type !== undefined && s.type !== 'classic' && s.type !== 'quorum') problems.push(`${where}: type must be "classic" or "quorum", got ${JSON.stringify(s.type)}`);
  for (const field of ['messageTtlMs', 'maxLength', 'maxLengthBytes'] as const) {
    if (s[field] !== undefined && !isWhole(s[field], 0)) problems.push(`${where}: ${field} must be a whole number ≥ 0, got ${JSON.stringify(s[field])}`);
  }
  if (s.expiresMs !== undefined && !isWhole(s.expiresMs, 1)) problems.push(`${where}: expiresMs must be a whole number ≥ 1, got ${JSON.stringify(s.expiresMs)}`);
  if (s.overflow !== undefined && !OVERFLOW.includes(s.overflow)) problems.push(`${where}: overflow must be one of ${OVERFLOW.join(', ')}, got ${JSON.stringify(s.overflow)}`);
  if (s.type === 'quorum') {
    if (s.durable === false) problems.push(`${where}: quorum queues are always durable (remove durable: false)`);
    if (s.exclusive || s.autoDelete) problems.push(`${where}: quorum queues cannot be exclusive or auto-delete`);
    if (s.overflow === 'reject-publish-dlx') problems.push(`${where}: quorum queues do not support overflow "reject-publish-dlx"`);
  }
  if (s.deadLetterRoutingKey !== undefined && s.deadLetterExchange === undefined) {
    problems.push(`${where}: deadLetterRoutingKey needs deadLetterExchange`);
  }
  return problems;
}

const nameOk = (name: unknown): name is string => typeof name === 'string' && name.length > 0 && Buffer.byteLength(name) <= 255;

/** Every problem with a topology, so they can be reported at once. */
export function topologyProblems(topology: RabbitMQTopology): string[] {
  const problems: string[] = [];
  const exchanges = new Set<string>();
  (topology.exchanges ?? []).forEach((e, i) => {
    const where = `topology.exchanges[${i}]${nameOk(e?.name) ? ` ("${e.name}")` : ''}`;
    if (!nameOk(e?.name)) problems.push(`${where}: name must be a non-empty string of at most 255 bytes`);
    else if (e.name.startsWith('amq.')) problems.push(`${where}: names starting with "amq." are reserved by RabbitMQ`);
    else exchanges.add(e.name);
    if (!EXCHANGE_TYPES.includes(e?.type)) problems.push(`${where}: type must be one of ${EXCHANGE_TYPES.join(', ')}, got ${JSON.stringify(e?.type)}`);
  });
  (topology.queues ?? []).forEach((q, i) => {
    const where = `topology.queues[${i}]${nameOk(q?.name) ? ` ("${q.name}")` : ''}`;
    if (!nameOk(q?.name)) problems.push(`${where}: name must be a non-empty string of at most 255 bytes`);
    problems.push(...queueSettingsProblems(where, q ?? {}));
  });
  (topology.bindings ?? []).forEach((b, i) => {
    const where = `topology.bindings[${i}]`;
    if (!nameOk(b?.exchange)) problems.push(`${where}: exchange must be a non-empty string`);
    if ((b?.queue === undefined) === (b?.toExchange === undefined)) problems.push(`${where}: give exactly one of queue or toExchange`);
    if (b?.routingKey !== undefined && (typeof b.routingKey !== 'string' || Buffer.byteLength(b.routingKey) > 255)) {
      problems.push(`${where}: routingKey must be a string of at most 255 bytes`);
    }
  });
  return problems;
}

/** How errors name the settings of a queue declared in `topology.queues`. */
export const topologyQueueSettings = (name: string): string => `the topology.queues entry of "${name}"`;

/** Declares the topology on `ch`: exchanges, then queues, then bindings. */
export async function declareTopology(ch: Channel, topology: RabbitMQTopology): Promise<void> {
  for (const e of topology.exchanges ?? []) await ch.exchangeDeclare(exchangeDeclaration(e));
  for (const q of topology.queues ?? []) {
    await ch.queueDeclare(queueDeclaration(q.name, q)).catch((error: unknown) => {
      throw inequivalentQueue(error, q.name, topologyQueueSettings(q.name)) ?? error;
    });
  }
  for (const b of topology.bindings ?? []) {
    if (b.toExchange !== undefined) {
      await ch.exchangeBind({ source: b.exchange, destination: b.toExchange, routingKey: b.routingKey ?? '', arguments: b.arguments ?? {} });
    } else {
      await ch.queueBind({ exchange: b.exchange, queue: b.queue!, routingKey: b.routingKey ?? '', arguments: b.arguments ?? {} });
    }
  }
}
