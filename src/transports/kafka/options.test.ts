import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { resolveKafkaOptions } from './options.ts';

describe('kafka options', () => {
  it("defaults to the safe producer: acks 'all', idempotent, no compression", () => {
    const o = resolveKafkaOptions({ brokers: '127.0.0.1:9092, 127.0.0.1:9093' });
    expect(o.brokers).toEqual(['127.0.0.1:9092', '127.0.0.1:9093']);
    expect(o.producer).toMatchObject({ acks: 'all', idempotent: true, compression: 'none', lingerMs: 0 });
    expect(o.clientId).toBe('switchyard');
  });

  it('reports every problem in one ConfigError', () => {
    let error: unknown;
    try {
      resolveKafkaOptions({
        brokers: ['nohost'],
        producer: { acks: 1, compression: 'brotli' as 'gzip', lingerMs: -1 },
        consumer: { sessionTimeoutMs: 1_000, heartbeatIntervalMs: 2_000, maxBufferedMessages: 0 },
        topics: { 'bad..name': { partitions: 0, cleanupPolicy: 'forever' as 'delete' } },
      });
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    const problems = (error as { problems: string[] }).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        'broker "nohost" must be "host:port"',
        "producer.idempotent needs acks: 'all' (got acks: 1); set idempotent: false to use weaker acks",
        'producer.compression must be one of none, gzip, snappy, lz4, zstd, got "brotli"',
        'producer.lingerMs must be a whole number ≥ 0, got -1',
        'consumer.maxBufferedMessages must be a whole number ≥ 1, got 0',
        'consumer.heartbeatIntervalMs (2000) must be below consumer.sessionTimeoutMs (1000)',
        'topics["bad..name"].partitions must be a whole number ≥ 1, got 0',
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(9);
  });

  it('accepts weaker acks once idempotence is off', () => {
    expect(resolveKafkaOptions({ brokers: ['k:9092'], producer: { acks: 1, idempotent: false } }).producer.acks).toBe(1);
  });
});
