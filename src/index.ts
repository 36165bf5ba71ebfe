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
export { newMessageId, messageIdTime } from './core/id.ts';
export { topicMatches, topicMatcher, isPattern, topicProblems, patternProblems, groupProblems, assertTopic } from './core/topic.ts';
export { CONTENT_TYPE_HEADER, defineCodec, type Codec, type MessageInit } from './core/codec.ts';
export { json } from './codecs/json.ts';
export { raw, text } from './codecs/raw.ts';
export { protobuf, type ProtobufType } from './codecs/protobuf.ts';
export { isStandardSchema, validateAsync, type StandardSchema, type InferOutput } from './codecs/standard-schema.ts';
export { memory, MemoryTransport, MemoryBroker, type MemoryOptions } from './transports/memory/index.ts';
