/**
 * `switchyard/rabbitmq`: the RabbitMQ transport (AMQP 0-9-1, over rabbitmq-client), its native
 * topology options and queue-depth lag.
 */
export { rabbitmq, RabbitMQTransport } from './transport.ts';
export type { RabbitMQSubscription } from './subscription.ts';
export { defaultAmqpUrl, type RabbitMQOptions, type RabbitMQRoute, type RabbitMQEvent } from './options.ts';
export type { RabbitMQTopology, ExchangeSpec, QueueSpec, QueueSettings, BindingSpec, OverflowPolicy } from './topology.ts';
export { rabbitmqLag, type RabbitMQLag } from './lag.ts';
export type { RabbitMQNative } from './native.ts';
