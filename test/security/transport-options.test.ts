import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../src/core/errors.ts';
import { normalizeOutgoing } from '../../src/core/message.ts';
import { redact, redactUrl, urlSecrets } from '../../src/core/redact.ts';
import { checkMessageLimits, headerBytes } from '../../src/internal/message-limits.ts';
import { nodeTlsOptions, tlsFailure, tlsOptionProblems } from '../../src/internal/transport-tls.ts';
import { resolveKafkaOptions } from '../../src/transports/kafka/options.ts';
import { resolveNatsOptions } from '../../src/transports/nats/options.ts';
import { resolveOptions as resolveRabbitOptions } from '../../src/transports/rabbitmq/options.ts';

describe('redact', () => {
  it('masks URL passwords and listed secrets, keeping the rest readable', () => {
    expect(redact('connecting to amqps://app:hunter2@mq:5671/prod failed')).toBe('connecting to amqps://app:***@mq:5671/prod failed');
    expect(redact('a nats://u:p%40ss@h:4222 and kafka token abc123', ['abc123'])).toBe('a nats://u:***@h:4222 and kafka token ***');
    expect(redact('no secrets here', ['', 'ab', undefined])).toBe('no secrets here');
    expect(redactUrl('nats://tok3n@127.0.0.1:4222', { userIsSecret: true })).toBe('nats://***@127.0.0.1:4222');
    expect(redactUrl('not a url with pass')).toBe('(invalid url)');
    expect(urlSecrets('amqp://u:p%40ss@h')).toEqual(['p%40ss', 'p@ss']);
  });
});

describe('TLS options', () => {
  it('refuses rejectUnauthorized: false unless dangerouslySkipVerify says so', () => {
    expect(tlsOptionProblems('tls', { rejectUnauthorized: false })[0]).toMatch(/would switch certificate verification off silently/);
    expect(tlsOptionProblems('tls', { rejectUnauthorized: false, dangerouslySkipVerify: true })).toEqual([]);
    expect(tlsOptionProblems('tls', { dangerouslySkipVerify: 'yes' })[0]).toMatch(/must be a boolean/);
    expect(nodeTlsOptions({ ca: 'x', dangerouslySkipVerify: true })).toEqual({ ca: 'x', rejectUnauthorized: false });
    expect(nodeTlsOptions({ ca: 'x' })).toEqual({ ca: 'x', rejectUnauthorized: true });
  });

  it('finds the TLS failure inside nested client errors', () => {
    const inner = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    const wrapped = new Error('metadata failed', { cause: new AggregateError([new Error('x'), inner]) });
    expect(tlsFailure(wrapped)?.kind).toBe('untrusted');
    expect(tlsFailure(Object.assign(new Error('h'), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }))?.kind).toBe('hostname');
    expect(tlsFailure(Object.assign(new Error('old'), { code: 'CERT_HAS_EXPIRED' }))?.kind).toBe('expired');
    expect(tlsFailure(new Error('ECONNREFUSED'))).toBeUndefined();
  });

  it('is validated the same way by every transport, and verification stays on for tls: true', () => {
    const problems = (f: () => unknown): string => {
      try {
        f();
        return '';
      } catch (error) {
        if (isConfigError(error)) return error.message;
        throw error;
      }
    };
    expect(problems(() => resolveRabbitOptions({ tls: { rejectUnauthorized: false } }))).toMatch(/tls\.rejectUnauthorized/);
    expect(problems(() => resolveNatsOptions({ tls: { rejectUnauthorized: false } as never }, {}))).toMatch(/tls\.rejectUnauthorized/);
    expect(problems(() => resolveKafkaOptions({ brokers: 'h:1', ssl: { rejectUnauthorized: false } }))).toMatch(/ssl\.rejectUnauthorized/);
    expect(resolveKafkaOptions({ brokers: 'h:1', tls: true }).ssl).toEqual({ rejectUnauthorized: true });
    const ca = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'; // only the form is checked here
    expect(resolveKafkaOptions({ brokers: 'h:1', tls: { ca } }).ssl).toEqual({ ca, rejectUnauthorized: true });
  });

  it('checks SASL settings without echoing the password', () => {
    let message = '';
    try {
      resolveKafkaOptions({ brokers: 'h:1', sasl: { mechanism: 'SCRAM-SHA-999' as 'PLAIN', username: 'u', password: 'pw-not-shown' } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/sasl\.mechanism must be one of/);
    expect(message).not.toContain('pw-not-shown');
  });

  it('never echoes an unparsable RabbitMQ URL, which may hold a password', () => {
    expect(() => resolveRabbitOptions({ url: 'amqp://app:se cret@' })).toThrow(/not shown as it may hold a password/);
  });
});

describe('message size limits', () => {
  it('names every oversized message of a batch, its size, the limit and the option', () => {
    const batch = normalizeOutgoing('t.x', [
      { id: 'ok', payload: new Uint8Array(10) },
      { id: 'big', payload: new Uint8Array(11), headers: { h: 'vvvv' } },
    ]);
    expect(headerBytes({ h: 'vvvv', é: '' })).toBe(7);
    expect(() => checkMessageLimits('t.x', batch, { transport: 'x', maxPayloadBytes: 10, maxHeaderBytes: 4 })).toThrow(
      /message 1 \(id big\): payload of 11 bytes exceeds the limit of 10 bytes; raise the transport's maxPayloadBytes[\s\S]*message 1 \(id big\): headers of 5 bytes exceed the limit of 4 bytes/,
    );
    expect(() => checkMessageLimits('t.x', batch, { transport: 'x', maxPayloadBytes: 11, maxHeaderBytes: 5 })).not.toThrow();
  });
});
