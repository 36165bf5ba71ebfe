import { describe, expect, it } from 'vitest';
import { isConfigError, isTimeoutError, isTransportError } from '../../core/errors.ts';
import { isNatsNoResponders, isNoRespondersError, natsError, NatsTransportError } from './errors.ts';
import { capturedBy } from './request-reply.ts';

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

describe('NATS errors', () => {
  it('turns client errors into errors that steer', () => {
    expect(isConfigError(natsError('publish', named('InvalidSubjectError', 'bad subject')))).toBe(true);
    expect(isConfigError(natsError('publish', new Error('maximum payload exceeded')))).toBe(true);
    const permission = natsError('subscribe', named('PermissionViolationError', 'Permissions Violation for Subscription'));
    expect(isTransportError(permission) && (permission as NatsTransportError).retryable).toBe(false);
    expect(isTimeoutError(natsError('request', named('TimeoutError', 'timeout'), 500))).toBe(true);
    const closed = natsError('publish', named('ClosedConnectionError', 'closed connection'));
    expect((closed as NatsTransportError).reason).toBe('connection-closed');
    const other = natsError('publish', new Error('boom'));
    expect(isTransportError(other) && (other as NatsTransportError).retryable).toBe(true);
    expect((other as Error).message).toBe('publish: boom');
  });

  it('recognises "no responders" through causes, and guards by code and reason', () => {
    expect(isNatsNoResponders(new Error('wrapper', { cause: named('NoRespondersError', '503') }))).toBe(true);
    expect(isNatsNoResponders(new Error('nothing to see'))).toBe(false);
    expect(isNoRespondersError(new NatsTransportError('x', 'no-responders'))).toBe(true);
    expect(isNoRespondersError({ code: 'TRANSPORT', reason: 'no-responders' })).toBe(true);
    expect(isNoRespondersError(new NatsTransportError('x', 'broker'))).toBe(false);
  });
});

describe('capturedBy', () => {
  const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
  it('spots a JetStream publish ack answering a request', () => {
    expect(capturedBy({ data: bytes('{"stream":"SY_orders","seq":12}'), headers: undefined })).toBe('SY_orders');
  });
  it('leaves ordinary replies alone', () => {
    expect(capturedBy({ data: bytes('{"sku":"A-1","cents":1299}'), headers: undefined })).toBeUndefined();
    expect(capturedBy({ data: bytes('plain'), headers: undefined })).toBeUndefined();
    expect(capturedBy({ data: new Uint8Array(0), headers: undefined })).toBeUndefined();
  });
});
