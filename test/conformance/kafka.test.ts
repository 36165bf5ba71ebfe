import { kafka } from '../../src/transports/kafka/index.ts';
import { describeTransport } from '../../src/testing/index.ts';
import { testBrokers } from '../../src/transports/kafka/test-cluster.ts';

// Runs against the librdkafka mock cluster (NOT Apache Kafka) unless SWITCHYARD_KAFKA_BROKERS
// points elsewhere. Short fetch wait and heartbeats keep groups quick on the mock.
const options = {
  brokers: testBrokers(),
  maxPayloadBytes: 2 * 1024 * 1024,
  consumer: { maxWaitMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, topicRefreshMs: 500 },
};
describeTransport('kafka', () => kafka(options), kafka(options).capabilities, { topicPrefix: 'conformance-kafka' });
