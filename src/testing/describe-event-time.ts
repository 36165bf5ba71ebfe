import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Capabilities } from '../core/capabilities.ts';
import { isConfigError, type ConfigError } from '../core/errors.ts';
import type { OutgoingMessage } from '../core/message.ts';
import type { Subscription, Transport } from '../core/transport.ts';
import type { ConformanceCase } from './describe-transport.ts';
import { Inbox } from './inbox.ts';

const DAY = 86_400_000;

/**
 * The conformance cases for `OutgoingMessage.timestamp`, part of `describeTransport` (every
 * transport runs them): a message published with a timestamp arrives with exactly that timestamp (to the
 * millisecond, also on redelivery), one published without gets the publish time, and a timestamp
 * that is no whole positive millisecond count is refused with a ConfigError, sending nothing.
 * What republishes messages (the bridge, dead letters, replays) relies on this to keep event time.
 */
export function describeEventTime(
  name: string,
  factory: () => Transport | Promise<Transport>,
  capabilities: Capabilities,
  options: { topicPrefix?: string; skip?: Partial<Record<ConformanceCase, string>> } = {},
): void {
  const run = `${options.topicPrefix ?? 'conformance'}.event-time.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  let caseNumber = 0;
  const topicFor = (slug: string): string => `${run}.${slug}.${++caseNumber}`;
  const open: Array<Transport | Subscription> = [];
  const wait = 30_000;

  async function transport(): Promise<Transport> {
    const t = await factory();
    open.push(t);
    await t.connect();
    return t;
  }

  function test(id: ConformanceCase, title: string, fn: () => Promise<void>): void {
    const reason = options.skip?.[id];
    if (reason) it.skip(`${title} — skipped: ${reason}`, fn);
    else it(title, fn, 60_000);
  }

  describe(`${name} transport conformance: event time`, () => {
    afterEach(async () => {
      for (const item of open.splice(0).toReversed()) await item.close().catch(() => undefined);
    });

    test(
      'event-time',
      capabilities.redelivery
        ? 'delivers the timestamp a message was published with, to the millisecond, on every attempt; the publish time when none was given'
        : 'delivers the timestamp a message was published with, to the millisecond; the publish time when none was given',
      async () => {
        const t = await transport();
        const topic = topicFor('given');
        const inbox = new Inbox();
        open.push(
          await t.subscribe(topic, { group: 'g', concurrency: 4 }, async (m) => {
            inbox.push(m);
            if (capabilities.redelivery && m.id === 'retried' && m.attempt === 1) throw new Error('failing the first attempt on purpose');
          }),
        );
        // Days in the past, with a millisecond part (a transport carrying seconds only loses it). In
        // one batch, out of time order, mixed with a message that gives none: each keeps its own.
        const past = Date.now() - 3 * DAY - 211;
        const sent: OutgoingMessage[] = [
          { id: 'past', key: 'k1', payload: Buffer.from('1'), timestamp: past },
          { id: 'older', key: 'k1', payload: Buffer.from('2'), timestamp: past - 20 * DAY + 1 },
          { id: 'unset', key: 'k1', payload: Buffer.from('3') },
          { id: 'retried', key: 'k2', payload: Buffer.from('4'), timestamp: past + 1 },
        ];
        const before = Date.now();
        await t.publish(topic, sent);
        const after = Date.now();
        await inbox.until(
          () => inbox.ids().size === sent.length && (!capabilities.redelivery || inbox.messages.some((m) => m.id === 'retried' && m.attempt === 2)),
          wait,
          () => `every message (and attempt 2 of "retried") (got ${inbox.messages.map((m) => `${m.id}#${m.attempt}`).join(', ')})`,
        );
        const timestamps = (id: string): number[] => inbox.messages.filter((m) => m.id === id).map((m) => m.timestamp);
        expect(timestamps('past')).toEqual([past]);
        expect(timestamps('older')).toEqual([past - 20 * DAY + 1]);
        expect(timestamps('retried')).toEqual(capabilities.redelivery ? [past + 1, past + 1] : [past + 1]);
        const [unset] = timestamps('unset');
        expect(unset).toBeGreaterThanOrEqual(before);
        expect(unset).toBeLessThanOrEqual(after);
      },
    );

    // A bridge replaying a topic from its start forwards years-old and new messages alike, and a
    // transport may put them in one batch (Kafka's record batch keeps each time as a difference).
    test('event-time-far-apart', 'delivers timestamps years apart, published in one batch of one key, exactly', async () => {
      const t = await transport();
      const topic = topicFor('far-apart');
      const inbox = new Inbox();
      open.push(await t.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m)));
      const longAgo = Date.UTC(2021, 4, 3, 12, 34, 56, 789);
      const sent: OutgoingMessage[] = [
        { id: 'long-ago', key: 'k', payload: Buffer.from('1'), timestamp: longAgo },
        { id: 'year-before', key: 'k', payload: Buffer.from('2'), timestamp: longAgo - 365 * DAY },
        { id: 'yesterday', key: 'k', payload: Buffer.from('3'), timestamp: Date.now() - DAY },
      ];
      await t.publish(topic, sent);
      await inbox.untilCount(sent.length, wait);
      expect(inbox.messages.map((m) => [m.id, m.timestamp])).toEqual(sent.map((m) => [m.id, m.timestamp]));
    });

    test('event-time-invalid', 'refuses a timestamp that is not whole positive milliseconds with a ConfigError naming each, sending nothing', async () => {
      const t = await transport();
      const topic = topicFor('invalid');
      const past = Date.now() - DAY;
      const bad: unknown[] = [1.5, 0, -1, Number.NaN, Number.POSITIVE_INFINITY, new Date(past), String(past), 8_640_000_000_000_001];
      const batch = [
        ...bad.map((timestamp, i) => ({ id: `bad-${i}`, payload: Buffer.from('x'), timestamp: timestamp as number })),
        { id: 'fine-in-bad-batch', payload: Buffer.from('x'), timestamp: past },
      ];
      const error = await t.publish(topic, batch).then(
        () => new Error('expected a ConfigError, but publish succeeded'),
        (e: unknown) => e,
      );
      expect(isConfigError(error), String(error)).toBe(true);
      const problems = (error as ConfigError).problems;
      expect(problems).toHaveLength(bad.length);
      for (const problem of problems) expect(problem).toMatch(/message \d+: timestamp must be a whole number of milliseconds since epoch/);
      expect(problems.join('\n')).toMatch(/got a Date \(pass date\.getTime\(\)\)/);
      // Nothing of the refused batch reached the topic.
      const inbox = new Inbox();
      open.push(await t.subscribe(topic, { group: 'check', from: 'earliest' }, async (m) => inbox.push(m)));
      await t.publish(topic, { id: 'valid', payload: Buffer.from('ok'), timestamp: past });
      await inbox.untilCount(1, wait);
      expect(inbox.messages.map((m) => [m.id, m.timestamp])).toEqual([['valid', past]]);
    });
  });
}
