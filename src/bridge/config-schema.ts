import { z } from 'zod';
import type { Message } from '../core/message.ts';
import type { Transport } from '../core/transport.ts';
import type { EmbeddedOptions } from '../transports/embedded/options.ts';
import type { KafkaTransportOptions } from '../transports/kafka/transport.ts';
import type { MemoryOptions } from '../transports/memory/transport.ts';
import type { NatsOptions } from '../transports/nats/options.ts';
import type { RabbitMQOptions } from '../transports/rabbitmq/options.ts';
import { didYouMean } from './suggest.ts';

/**
 * The shape of a bridge configuration, as zod schemas. Objects are strict: an unknown option is
 * reported (with the closest known one) rather than silently ignored. Nested broker options
 * (`producer`, `topology`, …) are checked by the transport factories themselves, before anything
 * connects.
 */

/** A strict object whose unknown keys become `unknown option "x" (did you mean "y"?)` messages, one line per key. */
function strict<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? [...issue.keys.slice(0, 10).map((k) => `unknown option "${k}"${didYouMean(k, known)}`), ...(issue.keys.length > 10 ? [`… and ${issue.keys.length - 10} more unknown options`] : [])].join('\n')
        : undefined,
  });
}

const int = (min: number) => z.number().int().min(min);
const name = z.string().min(1);
const stringList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)], { error: 'expected a string or a list of strings' });
const fn = <F>() => z.custom<F>((v) => typeof v === 'function', { message: 'expected a function' });

/** The transport kinds a config file can declare. */
export const TRANSPORT_TYPES = ['embedded', 'kafka', 'rabbitmq', 'nats', 'memory'] as const;
export type TransportType = (typeof TRANSPORT_TYPES)[number];

/** Options per transport kind: the top-level keys are checked here, their values by the factory. */
export const transportSchemas = {
  embedded: strict({
    type: z.literal('embedded'),
    dir: name,
    fsync: z.unknown().optional(),
    batchWindowMs: int(0).optional(),
    partitions: int(1).optional(),
    segmentBytes: int(1).optional(),
    retention: z.unknown().optional(),
    topics: z.unknown().optional(),
    redeliveryDelayMs: int(0).optional(),
    drainTimeoutMs: int(0).optional(),
    maintenanceIntervalMs: int(0).optional(),
    tombstoneRetentionMs: int(0).optional(),
    verifyOnOpen: z.boolean().optional(),
    share: z.boolean().optional(),
    connectTimeoutMs: int(0).optional(),
  }),
  kafka: strict({
    type: z.literal('kafka'),
    brokers: stringList,
    clientId: name.optional(),
    producer: z.unknown().optional(),
    consumer: z.unknown().optional(),
    topics: z.unknown().optional(),
    tls: z.unknown().optional(),
    ssl: z.unknown().optional(),
    sasl: z.unknown().optional(),
    connectTimeoutMs: int(1).optional(),
    requestTimeoutMs: int(1).optional(),
    maxPayloadBytes: int(1).optional(),
    maxHeaderBytes: int(1).optional(),
    maxRecordBytes: int(1).optional(),
  }),
  rabbitmq: strict({
    type: z.literal('rabbitmq'),
    url: name.optional(),
    tls: z.unknown().optional(),
    prefetch: int(1).optional(),
    confirm: z.boolean().optional(),
    mandatory: z.boolean().optional(),
    publishTimeoutMs: int(1).optional(),
    publishAttempts: int(1).optional(),
    topology: z.unknown().optional(),
    routes: z.unknown().optional(),
    exchange: name.optional(),
    groupQueue: z.unknown().optional(),
    redeliveryDelaysMs: z.array(int(0)).optional(),
    heartbeatSeconds: int(0).optional(),
    connectionTimeoutMs: int(1).optional(),
    connectTimeoutMs: int(1).optional(),
    reconnectDelayMs: z.unknown().optional(),
    drainTimeoutMs: int(0).optional(),
    maxPayloadBytes: int(1).optional(),
    maxHeaderBytes: int(1).optional(),
    connectionName: name.optional(),
    managementUrl: name.optional(),
  }),
  nats: strict({
    type: z.literal('nats'),
    servers: stringList.optional(),
    mode: z.enum(['jetstream', 'core']).optional(),
    name: name.optional(),
    streams: z.unknown().optional(),
    defaultStream: z.unknown().optional(),
    streamPrefix: name.optional(),
    consumers: z.unknown().optional(),
    reconnect: z.unknown().optional(),
    tls: z.unknown().optional(),
    auth: z.unknown().optional(),
    publishWindow: int(1).optional(),
    publishTimeoutMs: int(1).optional(),
    ackTimeoutMs: int(1).optional(),
    drainTimeoutMs: int(0).optional(),
    maxPayloadBytes: int(1).optional(),
    maxHeaderBytes: int(1).optional(),
    maxBufferedMessages: int(1).optional(),
  }),
  memory: strict({
    type: z.literal('memory'),
    retain: int(0).optional(),
    redeliveryDelayMs: int(0).optional(),
    drainTimeoutMs: int(0).optional(),
  }),
} satisfies Record<TransportType, z.ZodType>;

// The option names above must be exactly each factory's options that a file can hold (functions
// and in-process objects excepted): when a transport gains or loses an option, this stops compiling.
type DataKeys<T> = { [K in keyof T]-?: NonNullable<T[K]> extends (...args: never[]) => unknown ? never : K }[keyof T];
type SameKeys<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type FileKeys<K extends TransportType> = Exclude<keyof (typeof transportSchemas)[K]['shape'], 'type'>;
const optionNamesMatch: {
  embedded: SameKeys<FileKeys<'embedded'>, DataKeys<EmbeddedOptions>>;
  kafka: SameKeys<FileKeys<'kafka'>, DataKeys<KafkaTransportOptions>>;
  rabbitmq: SameKeys<FileKeys<'rabbitmq'>, DataKeys<RabbitMQOptions>>;
  nats: SameKeys<FileKeys<'nats'>, DataKeys<NatsOptions>>;
  memory: SameKeys<FileKeys<'memory'>, Exclude<DataKeys<MemoryOptions>, 'broker'>>;
} = { embedded: true, kafka: true, rabbitmq: true, nats: true, memory: true };
void optionNamesMatch;

/** A transport as a config file declares it: `type` plus that transport's options. */
export type TransportSpec = { [K in TransportType]: z.infer<(typeof transportSchemas)[K]> }[TransportType];

/** A value test: a plain value means "equals"; an object combines conditions (all must hold). */
export const predicateSchema = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.null(),
  strict({
    equals: z.unknown().optional(),
    notEquals: z.unknown().optional(),
    in: z.array(z.unknown()).optional(),
    notIn: z.array(z.unknown()).optional(),
    prefix: z.string().optional(),
    suffix: z.string().optional(),
    contains: z.string().optional(),
    matches: z.string().optional(),
    exists: z.boolean().optional(),
    gt: z.number().optional(),
    gte: z.number().optional(),
    lt: z.number().optional(),
    lte: z.number().optional(),
  }),
], { error: 'expected a value to compare with, or conditions such as { in: [...] }, { prefix: "…" }, { gte: 10 }' });
export type Predicate = z.infer<typeof predicateSchema>;

/** What a filter or transform module function receives: the source message, payload decoded by `format.in`. */
export interface BridgeMessage<T = unknown> extends Omit<Message, 'payload'> {
  payload: T;
}

/**
 * What a transform returns per output message. Fields left out are taken from the source message
 * (id, key, headers, timestamp); `topic` overrides the route's `to.topic`.
 */
export interface BridgeOutput<T = unknown> {
  payload: T;
  id?: string;
  key?: string;
  headers?: Record<string, string>;
  topic?: string;
  /** Milliseconds since epoch (whole). Default: the source message's timestamp. */
  timestamp?: number;
}

/** A filter function: keep the message when it returns (or resolves to) true. */
export type FilterFunction = (message: BridgeMessage) => boolean | Promise<boolean>;
/** A transform: one message in; one, several or none (`null`, an empty array) out. */
export type TransformFunction = (message: BridgeMessage) => BridgeOutput | BridgeOutput[] | null | undefined | Promise<BridgeOutput | BridgeOutput[] | null | undefined>;

const moduleRef = z.string().min(1);

export const filterSchema = strict({
  key: predicateSchema.optional(),
  headers: z.record(z.string(), predicateSchema).optional(),
  json: z.record(z.string().min(1), predicateSchema).optional(),
  module: z.union([moduleRef, fn<FilterFunction>()], { error: 'expected a module reference "./file.ts#exportName" (or a function, in code)' }).optional(),
});
export type FilterSpec = z.infer<typeof filterSchema>;

/** How payload bytes are read or written: a codec name, or a protobuf type declared under `schemas`. */
export const FORMAT_NAMES = ['json', 'raw', 'text'] as const;
export const formatSchema = z.union([z.enum(FORMAT_NAMES), strict({ protobuf: name })], { error: 'expected "json", "raw", "text" or { protobuf: SCHEMA_NAME }' });
export type FormatSpec = z.infer<typeof formatSchema>;

export const routeSchema = strict({
  name: z
    .string()
    .regex(/^[A-Za-z0-9._:@-]+$/, 'route names may only contain letters, digits, ".", "_", "-", ":" and "@"')
    .max(200),
  from: strict({
    transport: name,
    topic: name,
    group: name.optional(),
    start: z.enum(['earliest', 'latest']).optional(),
    concurrency: int(1).optional(),
  }),
  to: strict({
    transport: name,
    topic: name,
    key: z.string().optional(),
    headers: z.record(z.string().min(1), z.string()).optional(),
  }),
  filter: filterSchema.optional(),
  transform: z.union([moduleRef, fn<TransformFunction>()], { error: 'expected a module reference "./file.ts#exportName" (or a function, in code)' }).optional(),
  format: strict({ in: formatSchema.optional(), out: formatSchema.optional() }).optional(),
  retry: strict({
    attempts: int(1).optional(),
    initialDelayMs: int(0).optional(),
    maxDelayMs: int(0).optional(),
    multiplier: z.number().min(1).optional(),
  }).optional(),
  deadLetter: z
    .union([
      z.literal(false),
      strict({
        transport: name.optional(),
        topic: name.optional(),
        maxAttempts: int(1).optional(),
      }),
    ], { error: 'expected false, or { transport?, topic?, maxAttempts? }' })
    .optional(),
});
export type RouteSpec = z.infer<typeof routeSchema>;

export const schemaSpecSchema = strict({
  /** Path of a `.proto` file, relative to the config file. */
  proto: name,
  /** Fully qualified message type in it (`shop.OrderPlaced`). */
  type: name,
});
export type SchemaSpec = z.infer<typeof schemaSpecSchema>;

export const configSchema = strict({
  transports: z.record(z.string(), z.unknown()),
  schemas: z.record(z.string().min(1), schemaSpecSchema).optional(),
  routes: z.array(routeSchema).min(1, 'at least one route is needed'),
});

/**
 * A validated bridge configuration. In code, a transport may be given as a ready Transport
 * instance, and `filter.module` / `transform` as functions.
 */
export interface BridgeConfig {
  transports: Record<string, TransportSpec | Transport>;
  schemas?: Record<string, SchemaSpec>;
  routes: RouteSpec[];
}
