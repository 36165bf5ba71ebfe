import { describe, expect, it } from 'vitest';
import { isConfigError, isTransportError, TimeoutError } from '../../core/errors.ts';
import { toSwitchyardError } from './errors.ts';

const amqp = (code: string, message: string): Error => Object.assign(new Error(message), { code });

describe('rabbitmq errors', () => {
  it('turns conflicts, missing objects and refused access into ConfigErrors that say what to change', () => {
    for (const code of ['PRECONDITION_FAILED', 'NOT_FOUND', 'ACCESS_REFUSED']) {
      const error = toSwitchyardError(amqp(code, `${code} - details`), 'declaring the topology');
      expect(isConfigError(error), code).toBe(true);
      expect(error.message).toContain(code);
      expect(error.message).toContain('declaring the topology');
    }
  });

  it('turns connection failures into retryable TransportErrors and keeps Switchyard errors', () => {
    const error = toSwitchyardError(amqp('CONN_CLOSE', 'socket closed unexpectedly by server'), 'publish to "t"');
    expect(isTransportError(error)).toBe(true);
    expect((error as unknown as { retryable: boolean }).retryable).toBe(true);
    const timeout = new TimeoutError('x', 5);
    expect(toSwitchyardError(timeout, 'y')).toBe(timeout);
  });

  it('turns a frame the client could not encode into a ConfigError, and other codec failures into non-retryable errors', () => {
    const frame = toSwitchyardError(amqp('CODEC', 'frame size of 180098 bytes exceeds maximum of 131072'), 'publish to "t"');
    expect(isConfigError(frame)).toBe(true);
    expect(frame.message).toContain('frame size of 180098 bytes exceeds maximum of 131072');
    expect(frame.message).toContain('send fewer or smaller headers or a shorter key or id');
    const other = toSwitchyardError(amqp('CODEC', 'unknown AMQP method id: 7'), 'publish to "t"');
    expect(isTransportError(other)).toBe(true);
    expect((other as unknown as { retryable: boolean }).retryable).toBe(false);
  });
});
