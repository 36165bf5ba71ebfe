import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  ConcurrencyError,
  ConfigError,
  DecodeError,
  isClosedError,
  isConcurrencyError,
  isConfigError,
  isPermanentError,
  isTimeoutError,
  isTransportError,
  PermanentError,
  SwitchyardError,
  TimeoutError,
  toError,
  TransportError,
  ValidationError,
} from './errors.ts';

describe('error classes', () => {
  it('carry a code to switch on and keep their cause', () => {
    const cause = new Error('socket hang up');
    const e = new TransportError('broker unreachable', { cause, retryable: true });
    expect(e.code).toBe('TRANSPORT');
    expect(e.cause).toBe(cause);
    expect(e.retryable).toBe(true);
    expect(e).toBeInstanceOf(SwitchyardError);
    expect(new TransportError('bad credentials', { retryable: false }).retryable).toBe(false);
  });

  it('guards recognise errors by code, so a second copy of the package still matches', () => {
    const foreign = Object.assign(new Error('from another copy'), { code: 'DECODE' });
    expect(isPermanentError(foreign)).toBe(true);
    expect(isPermanentError(new PermanentError('rejected'))).toBe(true);
    expect(isPermanentError(new ValidationError({ topic: 't', messageId: 'm' }, [{ message: 'bad' }]))).toBe(true);
    expect(isPermanentError(new TransportError('x'))).toBe(false);
    expect(isPermanentError('DECODE')).toBe(false);
    expect(isConfigError(new ConfigError('x'))).toBe(true);
    expect(isClosedError(new ClosedError('transport'))).toBe(true);
    expect(isTimeoutError(new TimeoutError('publish', 5))).toBe(true);
    expect(isTransportError(new TransportError('x'))).toBe(true);
    expect(isConcurrencyError(new ConcurrencyError('stream order-1', 3, 4))).toBe(true);
  });

  it('DecodeError and ValidationError name the topic, message id and reason', () => {
    const decode = new DecodeError({ topic: 'orders', messageId: 'm-1' }, 'malformed JSON: Unexpected token');
    expect(decode.message).toBe('cannot decode message m-1 on "orders": malformed JSON: Unexpected token');
    const invalid = new ValidationError({ topic: 'orders', messageId: 'm-2' }, [
      { message: 'Required', path: ['customer', 'id'] },
      { message: 'Expected number' },
    ]);
    expect(invalid.message).toBe('message m-2 on "orders" failed validation: customer.id: Required; Expected number');
    expect(invalid.issues).toHaveLength(2);
  });

  it('ConfigError reports every problem at once', () => {
    expect(() => ConfigError.throwIfAny([])).not.toThrow();
    const e = new ConfigError(['brokers is required', 'clientId must be a string']);
    expect(e.problems).toEqual(['brokers is required', 'clientId must be a string']);
    expect(e.message).toBe('2 problems:\n- brokers is required\n- clientId must be a string');
  });

  it('ConcurrencyError and TimeoutError say what was expected', () => {
    expect(new ConcurrencyError('stream order-1', 3, 5).message).toBe('stream order-1: expected version 3, found 5');
    expect(new TimeoutError('publish to "orders"', 5000).message).toBe('publish to "orders" timed out after 5000 ms');
  });

  it('toError turns anything thrown into an Error', () => {
    const e = new Error('x');
    expect(toError(e)).toBe(e);
    expect(toError('boom').message).toBe('non-error thrown: boom');
    expect(toError(undefined).message).toBe('non-error thrown: undefined');
    expect(toError({ message: 'object with message' }).message).toBe('object with message');
    expect(toError(42).message).toBe('non-error thrown: 42');
  });

  it('toError describes values JSON cannot (a BigInt, a cycle) instead of throwing a TypeError about JSON', () => {
    expect(toError(42n).message).toBe('non-error thrown: 42n');
    const circular: Record<string, unknown> = { reason: 'card declined' };
    circular.self = circular;
    const e = toError(circular);
    expect(e.message).toBe("non-error thrown: <ref *1> { reason: 'card declined', self: [Circular *1] }");
    expect(e.cause).toBe(circular);
    expect(toError({ message: 7n }).message).toBe('7n');
    const hostile = {
      get message(): string {
        throw new Error('no');
      },
    };
    expect(toError(hostile).message).toBe('(its message getter threw)');
  });
});
