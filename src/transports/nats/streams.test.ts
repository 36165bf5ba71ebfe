import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { resolveNatsOptions } from './options.ts';
import { consumerName, encodeToken, planStream, streamConfig, streamUpdate, subjectCovers } from './streams.ts';

describe('subjectCovers', () => {
  it.each([
    ['orders.>', 'orders.placed', true],
    ['orders.>', 'orders.*.eu', true],
    ['orders.>', 'orders', false],
    ['orders.*', 'orders.placed', true],
    ['orders.*', 'orders.placed.eu', false],
    ['orders.*', 'orders.>', false],
    ['orders.placed', 'orders.placed', true],
    ['orders.placed', 'orders.*', false],
    ['>', 'anything.at.all', true],
    ['*.created', 'user.created', true],
    ['*.created', '*.created', true],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(subjectCovers(outer, inner)).toBe(expected);
  });
});

describe('planStream', () => {
  const options = resolveNatsOptions({ streams: [{ name: 'EVENTS', subjects: ['events.>', '*.audit'], maxAgeMs: 60_000 }] }, {});

  it('puts a topic into the stream of its first token, covering later topics too', () => {
    expect(planStream('orders.placed', options)).toMatchObject({ name: 'SY_orders', subjects: ['orders', 'orders.>'], declared: false });
    expect(planStream('orders.*.created', options).name).toBe('SY_orders');
    expect(planStream('orders', options).name).toBe('SY_orders');
  });

  it('prefers a declared stream whose subjects cover the topic or pattern', () => {
    expect(planStream('events.user.created', options)).toMatchObject({ name: 'EVENTS', declared: true });
    expect(planStream('*.audit', options).name).toBe('EVENTS');
  });

  it('refuses a pattern starting with a wildcard that no declared stream covers, saying what to do', () => {
    let error: unknown;
    try {
      planStream('*.created', options);
    } catch (e) {
      error = e;
    }
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatch(/declare a stream/);
  });

  it('encodes first tokens into valid, unambiguous stream names', () => {
    expect(encodeToken('orders')).toBe('orders');
    expect(encodeToken('a_b:c@d')).toBe('a_5fb_3ac_40d');
  });

  it('keeps stream names within the 255 characters JetStream allows, distinct for distinct tokens', () => {
    const options = resolveNatsOptions({});
    const long = planStream(`${':'.repeat(249)}`, options).name;
    const other = planStream(`${':'.repeat(248)}@`, options).name;
    expect(long.length).toBe(255);
    expect(long).toMatch(/^SY__3a_3a.*_[0-9a-f]{16}$/);
    expect(other).not.toBe(long);
    // Names that fit are as they always were.
    expect(planStream(`${'a'.repeat(249)}.x`, options).name).toBe(`SY_${'a'.repeat(249)}`);
  });
});

describe('consumerName', () => {
  it('is readable, stable, and distinct per group and topic', () => {
    const a = consumerName('billing', 'orders.placed');
    expect(a).toMatch(/^billing__orders_placed_[0-9a-f]{12}$/);
    expect(consumerName('billing', 'orders.placed')).toBe(a);
    expect(consumerName('billing', 'orders_placed')).not.toBe(a);
    expect(consumerName('billing', 'orders.*')).not.toBe(consumerName('billing', 'orders.>'));
    expect(consumerName('g'.repeat(200), 't').length).toBeLessThanOrEqual(61);
  });
});

describe('streamConfig', () => {
  it('maps limits to JetStream settings in nanoseconds', () => {
    const config = streamConfig({
      name: 'S',
      subjects: ['s.>'],
      declared: true,
      limits: { retention: 'workqueue', maxAgeMs: 1_000, maxBytes: 10, maxMessages: 5, storage: 'memory', replicas: 3, duplicateWindowMs: 500 },
    });
    expect(config).toMatchObject({
      name: 'S',
      subjects: ['s.>'],
      retention: 'workqueue',
      storage: 'memory',
      num_replicas: 3,
      max_age: 1_000_000_000,
      max_bytes: 10,
      max_msgs: 5,
      duplicate_window: 500_000_000,
    });
  });

  it('defaults to limits retention, file storage, one replica and a two-minute duplicate window', () => {
    expect(streamConfig({ name: 'S', subjects: ['s'], declared: false, limits: {} })).toMatchObject({
      retention: 'limits',
      storage: 'file',
      num_replicas: 1,
      duplicate_window: 120_000_000_000,
    });
  });

  it('shortens the default duplicate window to maxAgeMs, which JetStream requires', () => {
    expect(streamConfig({ name: 'S', subjects: ['s'], declared: false, limits: { maxAgeMs: 60_000 } }).duplicate_window).toBe(60_000_000_000);
    expect(streamConfig({ name: 'S', subjects: ['s'], declared: false, limits: { maxAgeMs: 600_000 } }).duplicate_window).toBe(120_000_000_000);
  });
});

describe('streamUpdate', () => {
  const plan = (limits: object) => ({ name: 'S', subjects: ['s.>'], limits, declared: true });
  const existing = { max_age: 3_600_000 * 1e6, max_bytes: 1_000, max_msgs: 10, duplicate_window: 120_000 * 1e6, num_replicas: 1 };

  it('changes only the limits the options set and the stream has otherwise', () => {
    expect(streamUpdate(existing, plan({}))).toBeUndefined();
    expect(streamUpdate(existing, plan({ maxBytes: 1_000, maxMessages: 10 }))).toBeUndefined();
    expect(streamUpdate(existing, plan({ maxMessages: 20 }))).toEqual({ max_msgs: 20 });
  });

  it('brings the duplicate window down with a shorter maxAgeMs unless duplicateWindowMs is set', () => {
    expect(streamUpdate(existing, plan({ maxAgeMs: 10_000 }))).toEqual({ max_age: 10_000 * 1e6, duplicate_window: 10_000 * 1e6 });
    expect(streamUpdate(existing, plan({ maxAgeMs: 10_000, duplicateWindowMs: 5_000 }))).toEqual({ max_age: 10_000 * 1e6, duplicate_window: 5_000 * 1e6 });
  });
});
