import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../core/errors.ts';
import { DEFAULT_NATS_URL, redeliveryDelay, resolveNatsOptions, type NatsOptions } from './options.ts';

function problemsOf(options: NatsOptions): readonly string[] {
  try {
    resolveNatsOptions(options, {});
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('NATS options', () => {
  it('defaults to JetStream on the local server, or SWITCHYARD_NATS_URL', () => {
    expect(resolveNatsOptions({}, {})).toMatchObject({ servers: [DEFAULT_NATS_URL], mode: 'jetstream', streamPrefix: 'SY_', publishWindow: 256 });
    expect(resolveNatsOptions({}, { SWITCHYARD_NATS_URL: 'nats://a:1,nats://b:2' }).servers).toEqual(['nats://a:1', 'nats://b:2']);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({
      servers: 'http://nope',
      mode: 'durable' as 'core',
      streams: [{ name: 'bad.name', subjects: [] }],
      consumers: { ackWaitMs: 10, backoffMs: [100, 200] },
      reconnect: { pingIntervalMs: -1 },
      auth: { user: 'u' } as never,
    });
    expect(problems).toHaveLength(8);
    expect(problems.join('\n')).toMatch(/not a NATS URL/);
    expect(problems.join('\n')).toMatch(/mode must be/);
    expect(problems.join('\n')).toMatch(/backoffMs needs consumers.maxDeliver/);
  });

  it('refuses a consumers.deadLetterTopic that is not a function, saying what it takes', () => {
    expect(problemsOf({ consumers: { deadLetterTopic: 'orders.dlq' as never } })).toEqual([
      'consumers.deadLetterTopic must be a function (message) => topic, e.g. (m) => `${m.topic}.dlq`',
    ]);
  });

  it('never shows a server string that may hold credentials, and takes none without a scheme', () => {
    const problems = problemsOf({ servers: ['app:S3cretPass@127.0.0.1:4222', 'nats//app:S3cretPass@127.0.0.1:4222', 'TopSecretToken123@127.0.0.1:4999', 'nats-1:4222x'] });
    expect(problems).toEqual([
      'server 1 (29 characters, not shown as it may hold credentials) is not a NATS URL (expected nats://host:port, nats://user:pass@host:port or host:port)',
      'server 2 (35 characters, not shown as it may hold credentials) is not a NATS URL (expected nats://host:port, nats://user:pass@host:port or host:port)',
      'server 3 (32 characters, not shown as it may hold credentials) is not a NATS URL (expected nats://host:port, nats://user:pass@host:port or host:port)',
      'server "nats-1:4222x" is not a NATS URL (expected nats://host:port, nats://user:pass@host:port or host:port)',
    ]);
  });

  it('rejects a declared stream named twice and invalid subjects', () => {
    const problems = problemsOf({ streams: [{ name: 'A', subjects: ['a..b'] }, { name: 'A', subjects: ['c'] }] });
    expect(problems.some((p) => p.includes('declared twice'))).toBe(true);
    expect(problems.some((p) => p.includes('empty token'))).toBe(true);
  });

  it('refuses a duplicate window longer than maxAgeMs (JetStream would refuse the stream) or of 0 (it cannot be switched off)', () => {
    expect(problemsOf({ defaultStream: { maxAgeMs: 60_000, duplicateWindowMs: 120_000 } })).toEqual([
      'defaultStream.duplicateWindowMs (120000) must not exceed defaultStream.maxAgeMs (60000): JetStream refuses to remember ids longer than it keeps messages; ' +
        'lower it, or leave it out to get the shorter of 2 minutes and maxAgeMs',
    ]);
    expect(problemsOf({ streams: [{ name: 'S', subjects: ['s.>'], duplicateWindowMs: 0 }] })).toEqual([
      'streams[0].duplicateWindowMs cannot be 0: JetStream cannot switch de-duplication off (0 means its 2-minute default); give a short window, e.g. 1000',
    ]);
    expect(problemsOf({ defaultStream: { maxAgeMs: 60_000 } })).toEqual([]);
  });

  it('picks the redelivery delay by attempt, repeating the last', () => {
    expect(redeliveryDelay([100, 500, 2_000], 1)).toBe(100);
    expect(redeliveryDelay([100, 500, 2_000], 3)).toBe(2_000);
    expect(redeliveryDelay([100, 500, 2_000], 9)).toBe(2_000);
    expect(redeliveryDelay(250, 4)).toBe(250);
  });
});
