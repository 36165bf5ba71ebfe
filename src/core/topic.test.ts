import { describe, expect, it } from 'vitest';
import { groupProblems, isPattern, patternProblems, topicMatches, topicProblems } from './topic.ts';

describe('topic names and patterns', () => {
  it('accepts dot-separated tokens and rejects empty tokens, spaces and wildcards in topics', () => {
    expect(topicProblems('orders.placed')).toEqual([]);
    expect(topicProblems('orders.updates.c-42')).toEqual([]);
    expect(topicProblems('orders..placed')[0]).toMatch(/empty token/);
    expect(topicProblems('.orders')[0]).toMatch(/empty token/);
    expect(topicProblems('bad..')).toEqual(['topic "bad.." has an empty token (two dots, or a dot at an end)']); // two empty tokens, said once
    expect(topicProblems('orders placed')[0]).toMatch(/may only contain/);
    expect(topicProblems('orders.*')[0]).toMatch(/wildcards are for subscriptions/);
    expect(topicProblems('')[0]).toMatch(/non-empty string/);
    expect(topicProblems(undefined)[0]).toMatch(/non-empty string/);
    expect(topicProblems('x'.repeat(300))[0]).toMatch(/longer than 249/);
  });

  it('accepts * anywhere and > only at the end of a pattern', () => {
    expect(patternProblems('orders.*')).toEqual([]);
    expect(patternProblems('*.payment.*')).toEqual([]);
    expect(patternProblems('orders.>')).toEqual([]);
    expect(patternProblems('orders.>.x')[0]).toMatch(/only be the last token/);
    expect(isPattern('orders.*')).toBe(true);
    expect(isPattern('orders.placed')).toBe(false);
  });

  it('matches * to one token and > to one or more remaining tokens', () => {
    expect(topicMatches('user.*', 'user.created')).toBe(true);
    expect(topicMatches('user.*', 'user.created.eu')).toBe(false);
    expect(topicMatches('user.*', 'user')).toBe(false);
    expect(topicMatches('*.created', 'order.created')).toBe(true);
    expect(topicMatches('*.payment.*', 'order.payment.failed')).toBe(true);
    expect(topicMatches('*.payment.*', 'order.shipment.failed')).toBe(false);
    expect(topicMatches('orders.>', 'orders.a.b.c')).toBe(true);
    expect(topicMatches('orders.>', 'orders')).toBe(false);
    expect(topicMatches('orders.placed', 'orders.placed')).toBe(true);
  });

  it('validates group names', () => {
    expect(groupProblems('billing')).toEqual([]);
    expect(groupProblems('svc.billing-v2')).toEqual([]);
    expect(groupProblems('')[0]).toMatch(/non-empty/);
    expect(groupProblems('a b')[0]).toMatch(/may only contain/);
  });
});
