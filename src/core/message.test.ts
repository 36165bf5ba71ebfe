import { describe, expect, it } from 'vitest';
import { isConfigError, type ConfigError } from './errors.ts';
import { normalizeOutgoing } from './message.ts';

describe('normalizeOutgoing', () => {
  it('fills in id, key, headers and timestamp', () => {
    const [m] = normalizeOutgoing('orders', { payload: Uint8Array.of(1) });
    expect(m!.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(m!.key).toBe('');
    expect(m!.headers).toEqual({});
    expect(Math.abs(m!.timestamp - Date.now())).toBeLessThan(1000);
  });

  it('reports every problem of a batch in one ConfigError', () => {
    let error: ConfigError | undefined;
    try {
      normalizeOutgoing('orders.*', [
        { payload: 'text' as unknown as Uint8Array },
        { payload: Uint8Array.of(1), key: 5 as unknown as string, headers: { n: 1 as unknown as string } },
        null as unknown as { payload: Uint8Array },
      ]);
    } catch (e) {
      error = e as ConfigError;
    }
    expect(isConfigError(error)).toBe(true);
    expect(error!.problems).toHaveLength(5);
    expect(error!.message).toMatch(/wildcards are for subscriptions/);
    expect(error!.message).toMatch(/message 0: payload must be a Uint8Array \(use a codec such as json\(\)/);
    expect(error!.message).toMatch(/message 1: key must be a string, got number/);
    expect(error!.message).toMatch(/header "n" must be a string/);
    expect(error!.message).toMatch(/message 2: expected a message object, got null/);
  });
});

describe('normalizeOutgoing header names', () => {
  // Refusing odd names on publish would also refuse to dead-letter or bridge a message another
  // producer sent with them (its headers are republished as they came): it would loop for ever.
  it('keeps any name — empty, with ":", spaces, control characters or non-ASCII (every transport carries them exactly)', () => {
    const headers = { '': '0', 'a:b': '1', 'a b': '2', 'ctl\u0001': '3', 'ü': '4' };
    const [m] = normalizeOutgoing('orders', { payload: Uint8Array.of(1), headers });
    expect(m!.headers).toEqual(headers);
  });
});
