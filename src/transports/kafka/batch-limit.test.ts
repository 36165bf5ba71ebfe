import { createRecordsBatch, type MessageRecord } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import type { NormalizedMessage } from '../../core/message.ts';
import { toRecord } from './mapping.ts';
import { splitRecords } from './producer.ts';
import { kafka } from './transport.ts';

// The messages of one partition merged into a produce request make one record batch, which Kafka
// refuses whole above message.max.bytes (what maxRecordBytes stands for): producer.batchMaxBytes
// must keep merged batches within it.

const brokers = ['127.0.0.1:9092'];

function constructionError(make: () => unknown): Error | undefined {
  try {
    make();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

describe('Kafka transport: producer.batchMaxBytes against maxRecordBytes', () => {
  it("is a ConfigError above maxRecordBytes minus the batch header, naming both options and what to do", () => {
    const error = constructionError(() => kafka({ brokers, producer: { batchMaxBytes: 5_000_000 } }));
    expect(isConfigError(error)).toBe(true);
    expect(error!.message).toContain('producer.batchMaxBytes (5000000) must be at most maxRecordBytes (1048588) minus the 61-byte batch header, 1048527');
    expect(error!.message).toMatch(/lower producer\.batchMaxBytes, or, if the brokers' message\.max\.bytes .* is higher, set maxRecordBytes to it/);
    expect(isConfigError(constructionError(() => kafka({ brokers, maxPayloadBytes: 100_000, maxRecordBytes: 300_000, producer: { batchMaxBytes: 300_000 } })))).toBe(true);
  });

  it('is accepted up to that bound, and above the default once maxRecordBytes was raised with the brokers', () => {
    expect(kafka({ brokers, producer: { batchMaxBytes: 1_048_527 } }).config.producer.batchMaxBytes).toBe(1_048_527);
    expect(kafka({ brokers, maxRecordBytes: 10_000_000, producer: { batchMaxBytes: 5_000_000 } }).config.producer.batchMaxBytes).toBe(5_000_000);
  });

  it('follows a lowered maxRecordBytes when not given, and keeps its default otherwise', () => {
    expect(kafka({ brokers, maxPayloadBytes: 100_000, maxRecordBytes: 300_000 }).config.producer.batchMaxBytes).toBe(300_000 - 61);
    expect(kafka({ brokers }).config.producer.batchMaxBytes).toBe(1_000_000);
    expect(kafka({ brokers, maxPayloadBytes: 5_000_000 }).config.producer.batchMaxBytes).toBe(1_000_000);
  });

  it('at its bound, splits a publish into record batches each within maxRecordBytes as the client encodes them', () => {
    const maxRecordBytes = 20_000;
    const message = (i: number, payload: number, extra: Partial<NormalizedMessage> = {}): NormalizedMessage => ({
      id: `m-${i}`,
      key: '',
      payload: Buffer.alloc(payload, i),
      headers: {},
      // Far-apart timestamps make the widest timestamp deltas.
      timestamp: 1_700_000_000_000 + i * 86_400_000,
      ...extra,
    });
    const shapes: NormalizedMessage[][] = [
      Array.from({ length: 2 }, (_, i) => message(i, 9_950)), // two records filling the batch: the header weighs most
      Array.from({ length: 500 }, (_, i) => message(i, 0)), // many empty records: framing only
      Array.from({ length: 300 }, (_, i) => message(i, 40, { key: `k-${i}`, headers: { trace: 't'.repeat(i % 50), 'ünïcode': 'ä' } })),
    ];
    for (const messages of shapes) {
      const parts = splitRecords(messages.map((m) => toRecord('t', m)), maxRecordBytes - 61, 10_000);
      for (const part of parts) expect(createRecordsBatch(part as MessageRecord[], { producerId: 7n, producerEpoch: 0 }).length).toBeLessThanOrEqual(maxRecordBytes);
    }
  });
});
