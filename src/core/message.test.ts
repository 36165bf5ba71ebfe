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

describe('normalizeOutgoing timestamp', () => {
  it('keeps a given timestamp (a republished message keeps its event time) and stamps the others with now', () => {
    const past = Date.UTC(2020, 0, 2, 3, 4, 5, 678);
    const before = Date.now();
    const [given, unset] = normalizeOutgoing('orders', [
      { payload: Uint8Array.of(1), timestamp: past },
      { payload: Uint8Array.of(2) },
    ]);
    expect(given!.timestamp).toBe(past);
    expect(unset!.timestamp).toBeGreaterThanOrEqual(before);
    expect(unset!.timestamp).toBeLessThanOrEqual(Date.now());
  });

  it('refuses a timestamp that is not whole milliseconds since epoch, saying what was given', () => {
    const bad: unknown[] = [1.5, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, 8_640_000_000_000_001, new Date(), '1700000000000', 10n];
    let error: ConfigError | undefined;
    try {
      normalizeOutgoing('orders', bad.map((timestamp) => ({ payload: Uint8Array.of(1), timestamp: timestamp as number })));
    } catch (e) {
      error = e as ConfigError;
    }
    expect(isConfigError(error)).toBe(true);
    expect(error!.problems).toHaveLength(bad.length);
    expect(error!.problems[0]).toBe('publish to "orders", message 0: timestamp must be a whole number of milliseconds since epoch, from 1 to 8640000000000000, got 1.5');
    expect(error!.problems[6]).toMatch(/got a Date \(pass date\.getTime\(\)\)$/);
    expect(error!.problems[7]).toMatch(/got string$/);
    expect(error!.problems[8]).toMatch(/got 10n \(a bigint; pass a number\)$/);
  });

  it('accepts the latest time a Date holds', () => {
    expect(normalizeOutgoing('orders', { payload: Uint8Array.of(1), timestamp: 8_640_000_000_000_000 })[0]!.timestamp).toBe(8_640_000_000_000_000);
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
