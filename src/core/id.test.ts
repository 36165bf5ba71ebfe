import { describe, expect, it } from 'vitest';
import { derivedMessageId, messageIdTime, newMessageId } from './id.ts';

describe('message ids', () => {
  it('are UUIDv7 strings that carry their creation time', () => {
    const now = Date.now();
    const id = newMessageId(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(messageIdTime(id)).toBe(now);
    expect(messageIdTime('not-a-uuid')).toBeUndefined();
  });

  it('are unique and strictly increasing within a process, even within one millisecond', () => {
    const ids = Array.from({ length: 50_000 }, () => newMessageId());
    expect(new Set(ids).size).toBe(ids.length);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
  });

  it('stay increasing when the clock goes backwards', () => {
    const a = newMessageId(Date.now() + 10_000);
    const b = newMessageId(Date.now());
    expect(b > a).toBe(true);
  });
});

describe('derivedMessageId', () => {
  it('is the same for the same parent, scope and index, and differs when any of them does', () => {
    const parent = newMessageId();
    const id = derivedMessageId(parent, 'billing', 0);
    expect(derivedMessageId(parent, 'billing', 0)).toBe(id);
    expect(new Set([id, derivedMessageId(parent, 'billing', 1), derivedMessageId(parent, 'shipping', 0), derivedMessageId(newMessageId(), 'billing', 0)]).size).toBe(4);
  });

  it('is a UUIDv7 carrying the parent’s time', () => {
    const parent = newMessageId();
    const id = derivedMessageId(parent, 'billing', 0);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(messageIdTime(id)).toBe(messageIdTime(parent));
    // Any other parent id: a UUIDv8, as stable.
    expect(derivedMessageId('order-7', 'billing', 0)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedMessageId('order-7', 'billing', 0)).toBe(derivedMessageId('order-7', 'billing', 0));
  });
});
