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
});
