/**
 * Switchyard: one contract for queues and event streams. The root export holds the contract,
 * the codecs and the in-process `memory()` transport; it has no runtime dependencies. Broker
 * transports live in their own subpaths (`switchyard/embedded`, `switchyard/kafka`, …).
 */
export type { Capabilities } from './core/capabilities.ts';
export type { Handler, HandlerContext, SubscribeOptions, Subscription, Transport } from './core/transport.ts';
export type { Message, OutgoingMessage, NormalizedMessage } from './core/message.ts';
export { normalizeOutgoing } from './core/message.ts';
export { resolveSubscribeOptions, type ResolvedSubscribeOptions } from './core/subscribe-options.ts';
export {
  SwitchyardError,
  PermanentError,
  DecodeError,
  ValidationError,
  TransportError,
  ConfigError,
  ClosedError,
  TimeoutError,
  ConcurrencyError,
  isPermanentError,
  isConfigError,
  isClosedError,
  isTimeoutError,
  isTransportError,
  isConcurrencyError,
  toError,
  type ErrorCode,
  type MessageLocation,
  type ValidationIssue,
} from './core/errors.ts';
export { newMessageId, messageIdTime, derivedMessageId } from './core/id.ts';
export { topicMatches, topicMatcher, isPattern, topicProblems, patternProblems, groupProblems, assertTopic } from './core/topic.ts';
export { CONTENT_TYPE_HEADER, defineCodec, type Codec, type MessageInit } from './core/codec.ts';
export { json } from './codecs/json.ts';
export { raw, text } from './codecs/raw.ts';
export { protobuf, type ProtobufType } from './codecs/protobuf.ts';
export { isStandardSchema, validateAsync, type StandardSchema, type InferOutput } from './codecs/standard-schema.ts';
export { memory, MemoryTransport, MemoryBroker, type MemoryOptions } from './transports/memory/index.ts';

// ── Router and reliability middleware (issue 7) ────────────────────────────────────────────
export {
  Router,
  AttemptContext,
  compose,
  contextKey,
  processSignals,
  listDeadLetters,
  replayDeadLetters,
  DLQ_GROUP,
  type RouterOptions,
  type RunOptions,
  type Terminal,
  type ContextKey,
  type DeliveryObserver,
  type IntakeControl,
  type Logger,
  type Middleware,
  type RouteHandler,
  type RouteOptions,
  type RoutedMessage,
  type RouterContext,
  type HandlerCounters,
  type HandlerSnapshot,
  type HandlerState,
  type RouterEvent,
  type RouterInspector,
  type RouterState,
  type DeadLetter,
  type DeadLetterReadOptions,
  type ReplayOptions,
} from './router/index.ts';
export {
  retry,
  deadLetter,
  DEAD_LETTER_HEADERS,
  timeout,
  recover,
  correlation,
  CORRELATION_HEADER,
  CAUSATION_HEADER,
  validate,
  concurrency,
  rateLimit,
  circuitBreaker,
  idempotency,
  type RetryOptions,
  type DeadLetterOptions,
  type RateLimitOptions,
  type CircuitBreaker,
  type CircuitBreakerOptions,
  type CircuitEvent,
  type CircuitState,
  type IdempotencyOptions,
} from './middleware/index.ts';
export {
  memoryIdempotencyStore,
  type MemoryIdempotencyOptions,
  type ClaimOptions,
  type IdempotencyClaim,
  type IdempotencyStore,
} from './stores/idempotency/index.ts';
// ── end issue 7 ────────────────────────────────────────────────────────────────────────────
