import { kafka } from '../../src/transports/kafka/index.ts';
import { describeTransport } from '../../src/testing/index.ts';
import { describeEventTime } from './event-time.ts';
import { testBrokers } from '../../src/transports/kafka/test-cluster.ts';

// Runs against the librdkafka mock cluster (NOT Apache Kafka) unless SWITCHYARD_KAFKA_BROKERS
// points elsewhere. Short fetch wait and heartbeats keep groups quick on the mock.
const options = {
  brokers: testBrokers(),
  maxPayloadBytes: 2 * 1024 * 1024,
  consumer: { maxWaitMs: 100, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, topicRefreshMs: 500 },
};
describeTransport('kafka', () => kafka(options), kafka(options).capabilities, { topicPrefix: 'conformance-kafka' });
// A known defect, not a limit of Kafka: @platformatic/dynamic-buffer 0.3.1 zigzag-encodes a varlong
// with `>> 31n` (not `>> 63n`), so a record whose time is 2^31 ms (24.8 days) or more from the
// first record of its batch arrives with a wrong time. Remove the skip once KafkaPublisher splits
// such batches.
describeEventTime('kafka', () => kafka(options), kafka(options).capabilities, {
  topicPrefix: 'conformance-kafka',
  skip: { 'far-apart': 'KNOWN DEFECT — record times 24.8 days or more apart in one record batch are corrupted (@platformatic/dynamic-buffer 0.3.1 varlong encoding)' },
});
