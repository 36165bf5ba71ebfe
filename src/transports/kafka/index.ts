/**
 * `switchyard/kafka`: the Kafka transport over @platformatic/kafka (an optional peer dependency,
 * loaded only by this subpath).
 */
export { kafka, KafkaTransport, type KafkaTransportOptions } from './transport.ts';
export type { KafkaOptions, KafkaProducerOptions, KafkaConsumerOptions, KafkaTopicSpec, KafkaCompression } from './options.ts';
export { KafkaSubscription } from './consumer.ts';
export { kafkaNative, kafkaConsumer, type KafkaNative } from './native.ts';
export { kafkaLag, type PartitionLag, type LagSource } from './lag.ts';
export { javaCompatiblePartitioner } from './producer.ts';
export { MESSAGE_ID_HEADER } from './mapping.ts';
export type { TopologyReport } from './topology.ts';
