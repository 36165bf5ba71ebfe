/**
 * `switchyard/nats`: the NATS transport (JetStream or core), request-reply, status events and
 * consumer lag. Needs the optional peer dependencies `@nats-io/transport-node` and `@nats-io/jetstream`.
 */
export { nats, NatsTransport, natsCapabilities } from './transport.ts';
export type {
  NatsOptions,
  NatsStreamDeclaration,
  NatsStreamLimits,
  NatsRetention,
  NatsConsumerOptions,
  NatsReconnectOptions,
  NatsTlsOptions,
  NatsAuth,
} from './options.ts';
export type { NatsStatus, NatsStatusListener } from './status.ts';
export type { RequestOptions, RespondOptions, Responder, Responding } from './request-reply.ts';
export { NatsTransportError, isNoRespondersError, type NatsFailure } from './errors.ts';
export { natsLag, type NatsGroupLag } from './lag.ts';
export type { NatsNative } from './native.ts';
export type { JetStreamSubscription } from './jetstream-subscription.ts';
export type { CoreSubscription } from './core-subscription.ts';
export { planStream, consumerName, subjectCovers, type StreamPlan } from './streams.ts';
