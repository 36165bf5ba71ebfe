import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Capabilities } from '../core/capabilities.ts';
import { isClosedError, isConfigError } from '../core/errors.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import type { Handler, SubscribeOptions, Subscription, Transport } from '../core/transport.ts';
import { describeEventTime } from './describe-event-time.ts';
import { Inbox } from './inbox.ts';

/** Names of the conformance cases, for `skip`. */
export type ConformanceCase =
  | 'capabilities'
  | 'round-trip'
  | 'large-payload'
  | 'key-order'
  | 'key-exclusive'
  | 'two-groups'
  | 'group-split'
  | 'redelivery'
  | 'failing-yields'
  | 'concurrency-bound'
  | 'close-drains'
  | 'close-gives-up'
  | 'group-resume'
  | 'replay'
  | 'latest'
  | 'wildcards'
  | 'partitions'
  | 'closed-publish'
  | 'invalid-input'
  | 'event-time'
  | 'event-time-far-apart'
  | 'event-time-invalid';

export interface TransportSuiteOptions {
  /** Per-case time limit in ms. Default 60,000. */
  timeoutMs?: number;
  /** Extra cases to skip, each with the reason printed in the test name. */
  skip?: Partial<Record<ConformanceCase, string>>;
  /** Prefix of the topics the suite creates (a random run id follows). Default `conformance`. */
  topicPrefix?: string;
}

const MiB = 1024 * 1024;
const slow = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));
const ignore = async (_m: Message): Promise<void> => {};

/**
 * The conformance suite every transport runs: the contract's rules checked against a real
 * transport (and, for adapters, a real broker). Cases a transport's capabilities rule out are
 * skipped with the reason in their name — never silently.
 *
 * @param name - shown in the suite title
 * @param factory - makes a fresh, unconnected transport; called several times per case
 * @param capabilities - what the transport claims; checked against `transport.capabilities`
 *
 * @example
 * ```ts
 * // test/conformance/memory.test.ts
 * import { memory } from 'switchyard';
 * import { describeTransport } from 'switchyard/testing';
 * describeTransport('memory', () => memory(), memory().capabilities);
 * ```
 */
export function describeTransport(
  name: string,
  factory: () => Transport | Promise<Transport>,
  capabilities: Capabilities,
  options: TransportSuiteOptions = {},
): void {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const run = `${options.topicPrefix ?? 'conformance'}.${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const open: Array<Transport | Subscription> = [];
  let caseNumber = 0;

  /** A fresh topic name per case, so reruns against a shared broker never see old messages. */
  const topicFor = (slug: string): string => `${run}.${slug}.${++caseNumber}`;
  const wait = Math.max(5_000, timeoutMs - 5_000);

  async function transport(): Promise<Transport> {
    const t = await factory();
    open.push(t);
    await t.connect();
    return t;
  }

  async function subscribe(t: Transport, topic: string, opts: SubscribeOptions, handler: Handler): Promise<Subscription> {
    const sub = await t.subscribe(topic, opts, handler);
    open.push(sub);
    return sub;
  }

  function needs(id: ConformanceCase, requirement: Array<[boolean, string]>): string | undefined {
    const explicit = options.skip?.[id];
    if (explicit) return explicit;
    return requirement.find(([ok]) => !ok)?.[1];
  }

  function test(id: ConformanceCase, title: string, fn: () => Promise<void>, requirement: Array<[boolean, string]> = []): void {
    const reason = needs(id, requirement);
    if (reason) it.skip(`${title} — skipped: ${reason}`, fn);
    else it(title, fn, timeoutMs);
  }

  const caps = capabilities;
  const notRedelivering: [boolean, string] = [caps.redelivery, `${name} does not redeliver failed messages (at-most-once)`];
  const notPersistent: [boolean, string] = [caps.persistentGroups, `${name} groups do not keep their place while they have no member`];

  describe(`${name} transport conformance`, () => {
    afterEach(async () => {
      const closing = open.splice(0).toReversed();
      for (const item of closing) await item.close().catch(() => undefined);
    });

    test('capabilities', 'declares the capabilities it was registered with', async () => {
      const t = await factory();
      open.push(t);
      expect(t.capabilities).toEqual(caps);
      expect(typeof t.name).toBe('string');
    });

    test('round-trip', 'round-trips 1,000 messages with ids, keys, unicode headers and payloads intact', async () => {
      const t = await transport();
      const topic = topicFor('round-trip');
      const inbox = new Inbox();
      await subscribe(t, topic, { group: 'g', concurrency: 8 }, async (m) => inbox.push(m));
      const sent: OutgoingMessage[] = [];
      for (let i = 0; i < 1_000; i++) {
        sent.push({
          id: `msg-${i}-${randomBytes(4).toString('hex')}`,
          key: i % 3 === 0 ? '' : `kéy-${i % 17}-✓`,
          payload: i === 0 ? new Uint8Array(0) : i === 1 ? Uint8Array.of(0xff) : randomBytes(1 + (i % 200)),
          headers: i % 2 === 0 ? {} : { 'x-trace': `t-${i}`, 'x-unicode': 'zaż\u00f3łć gęślą jaźń — 日本語 🚀', 'x-empty': '' },
        });
      }
      const before = Date.now();
      for (let i = 0; i < sent.length; i += 100) await t.publish(topic, sent.slice(i, i + 100));
      await inbox.untilCount(sent.length, wait);
      const byId = new Map(inbox.messages.map((m) => [m.id, m]));
      expect(byId.size).toBe(sent.length);
      for (const s of sent) {
        const got = byId.get(s.id!);
        expect(got, `message ${s.id}`).toBeDefined();
        expect(got!.topic).toBe(topic);
        expect(got!.key).toBe(s.key);
        expect(got!.headers).toEqual(s.headers);
        expect(Buffer.from(got!.payload).equals(Buffer.from(s.payload))).toBe(true);
        expect(got!.attempt).toBe(1);
        expect(got!.timestamp).toBeGreaterThanOrEqual(before - 1_000);
        expect(got!.timestamp).toBeLessThanOrEqual(Date.now() + 1_000);
      }
    });

    test(
      'large-payload',
      'carries a 1 MiB payload intact, and generates a time-ordered id when none is given',
      async () => {
        const t = await transport();
        const topic = topicFor('large');
        const inbox = new Inbox();
        await subscribe(t, topic, { group: 'g' }, async (m) => inbox.push(m));
        const payload = randomBytes(MiB);
        await t.publish(topic, { payload, key: 'big' });
        await t.publish(topic, { payload: Uint8Array.of(1) });
        await inbox.untilCount(2, wait);
        expect(Buffer.from(inbox.messages[0]!.payload).equals(payload)).toBe(true);
        const [first, second] = inbox.messages.map((m) => m.id);
        expect(first).toMatch(/^[0-9a-f-]{36}$/);
        expect(first! < second!).toBe(true);
      },
      [[caps.maxPayloadBytes >= MiB + 64 * 1024, `${name} carries at most ${caps.maxPayloadBytes} bytes per message`]],
    );

    test('key-order', 'delivers messages with the same key in publish order (concurrency 1)', async () => {
      const t = await transport();
      const topic = topicFor('key-order');
      const inbox = new Inbox();
      await subscribe(t, topic, { group: 'g', concurrency: 1 }, async (m) => inbox.push(m));
      const keys = ['a', 'b', 'c', 'd', 'e'];
      const perKey = 100;
      for (let round = 0; round < perKey; round += 10) {
        const batch: OutgoingMessage[] = [];
        for (let i = round; i < round + 10; i++) for (const key of keys) batch.push({ key, payload: Buffer.from(String(i)) });
        await t.publish(topic, batch);
      }
      await inbox.untilCount(keys.length * perKey, wait);
      for (const key of keys) {
        const seen = inbox.messages.filter((m) => m.key === key).map((m) => Number(Buffer.from(m.payload).toString()));
        expect(seen).toEqual(Array.from({ length: perKey }, (_, i) => i));
      }
    });

    test('key-exclusive', 'never runs two messages with the same key at once, and keeps their order, with concurrency 8', async () => {
      const t = await transport();
      const topic = topicFor('key-exclusive');
      const inbox = new Inbox();
      const running = new Set<string>();
      let overlaps = 0;
      let maxInFlight = 0;
      let inFlight = 0;
      await subscribe(t, topic, { group: 'g', concurrency: 8 }, async (m) => {
        if (running.has(m.key)) overlaps++;
        running.add(m.key);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running.delete(m.key);
        inFlight--;
        inbox.push(m);
      });
      const batch: OutgoingMessage[] = [];
      for (let i = 0; i < 30; i++) for (const key of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']) batch.push({ key, payload: Buffer.from(String(i)) });
      await t.publish(topic, batch);
      await inbox.untilCount(batch.length, wait);
      expect(overlaps).toBe(0);
      expect(maxInFlight).toBeGreaterThan(1);
      for (const key of ['k1', 'k2', 'k3', 'k4', 'k5', 'k6']) {
        const seen = inbox.messages.filter((m) => m.key === key).map((m) => Number(Buffer.from(m.payload).toString()));
        expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
      }
    });

    test('two-groups', 'delivers every message to each of two groups', async () => {
      const t = await transport();
      const topic = topicFor('two-groups');
      const a = new Inbox();
      const b = new Inbox();
      await subscribe(t, topic, { group: 'a', concurrency: 4 }, async (m) => a.push(m));
      await subscribe(t, topic, { group: 'b', concurrency: 4 }, async (m) => b.push(m));
      const batch = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 10}`, payload: Buffer.from(`m${i}`) }));
      await t.publish(topic, batch);
      await Promise.all([a.untilCount(200, wait), b.untilCount(200, wait)]);
      expect(a.ids().size).toBe(200);
      expect(b.ids().size).toBe(200);
      expect([...a.ids()].toSorted()).toEqual([...b.ids()].toSorted());
    });

    test('group-split', 'splits the messages between members of one group, none given to two members', async () => {
      const t1 = await transport();
      const t2 = await transport();
      const topic = topicFor('group-split');
      const all = new Inbox();
      const one = new Inbox();
      const two = new Inbox();
      await subscribe(t1, topic, { group: 'workers', concurrency: 2 }, async (m) => {
        await slow();
        one.push(m);
        all.push(m);
      });
      await subscribe(t2, topic, { group: 'workers', concurrency: 2 }, async (m) => {
        await slow();
        two.push(m);
        all.push(m);
      });
      const batch = Array.from({ length: 300 }, (_, i) => ({ key: `key-${i}`, payload: Buffer.from(`m${i}`) }));
      for (let i = 0; i < batch.length; i += 50) await t1.publish(topic, batch.slice(i, i + 50));
      await all.untilCount(300, wait);
      expect(all.ids().size).toBe(300);
      expect(all.messages.length).toBe(300); // nobody failed, so nothing may arrive twice
      expect(one.messages.length).toBeGreaterThan(0);
      expect(two.messages.length).toBeGreaterThan(0);
    });

    test(
      'redelivery',
      'delivers a message again with attempt + 1 after its handler threw',
      async () => {
        const t = await transport();
        const topic = topicFor('redelivery');
        const inbox = new Inbox();
        await subscribe(t, topic, { group: 'g' }, async (m) => {
          inbox.push(m);
          if (m.attempt < 3) throw new Error(`failing attempt ${m.attempt} on purpose`);
        });
        await t.publish(topic, { id: 'flaky-1', key: 'k', payload: Buffer.from('retry me'), headers: { h: 'v' } });
        await t.publish(topic, { id: 'fine-1', key: 'other', payload: Buffer.from('fine'), headers: {} });
        await inbox.until(
          () => inbox.messages.filter((m) => m.id === 'flaky-1' && m.attempt === 3).length === 1,
          wait,
          () => `attempt 3 of flaky-1 (got attempts ${inbox.messages.filter((m) => m.id === 'flaky-1').map((m) => m.attempt)})`,
        );
        const flaky = inbox.messages.filter((m) => m.id === 'flaky-1');
        expect(flaky.map((m) => m.attempt)).toEqual([1, 2, 3]);
        for (const m of flaky) {
          expect(Buffer.from(m.payload).toString()).toBe('retry me');
          expect(m.headers).toEqual({ h: 'v' });
          expect(m.key).toBe('k');
        }
      },
      [notRedelivering],
    );

    test(
      'failing-yields',
      'keeps the event loop turning while a message fails on every attempt: a timer fires and other keys are delivered meanwhile',
      async () => {
        const t = await transport();
        const topic = topicFor('failing-yields');
        const inbox = new Inbox();
        // Gives up failing at last, so a transport that redelivers on microtasks alone (starving
        // timers) ends the test with a failed assertion below rather than hanging it.
        const giveUpAfter = 1_000_000;
        let attempts = 0;
        const failing = Promise.withResolvers<void>();
        await subscribe(t, topic, { group: 'g', concurrency: 2 }, async (m) => {
          if (m.key === 'poison' && ++attempts < giveUpAfter) {
            failing.resolve();
            throw new Error('fails on every attempt, on purpose');
          }
          inbox.push(m);
        });
        await t.publish(topic, { id: 'poison-1', key: 'poison', payload: Buffer.from('never handled') });
        await failing.promise;
        // The timer is what is tested: it must fire while the message is still failing.
        const stillFailingWhenTimerFired = await new Promise<boolean>((resolve) => setTimeout(() => resolve(attempts < giveUpAfter), 20));
        expect(stillFailingWhenTimerFired).toBe(true);
        await t.publish(topic, { id: 'fine-1', key: 'fine', payload: Buffer.from('fine') });
        await inbox.until(() => inbox.messages.some((m) => m.id === 'fine-1'), wait, () => 'fine-1 delivered while poison-1 keeps failing');
        expect(attempts).toBeLessThan(giveUpAfter);
      },
      [notRedelivering],
    );

    test('concurrency-bound', 'never has more than N handlers in flight with concurrency N', async () => {
      const t = await transport();
      const topic = topicFor('concurrency');
      const inbox = new Inbox();
      let inFlight = 0;
      let max = 0;
      await subscribe(t, topic, { group: 'g', concurrency: 4 }, async (m) => {
        max = Math.max(max, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight--;
        inbox.push(m);
      });
      await t.publish(topic, Array.from({ length: 60 }, (_, i) => ({ key: `k${i}`, payload: Buffer.from(String(i)) })));
      await inbox.untilCount(60, wait);
      expect(max).toBeLessThanOrEqual(4);
      expect(max).toBeGreaterThan(1);
    });

    test(
      'close-drains',
      'close() waits for in-flight handlers and loses nothing',
      async () => {
        const t = await transport();
        const topic = topicFor('close-drains');
        const done = new Inbox();
        const started = new Inbox();
        let inFlight = 0;
        const sub = await subscribe(t, topic, { group: 'g', concurrency: 4 }, async (m) => {
          inFlight++;
          started.push(m);
          await new Promise((resolve) => setTimeout(resolve, 50));
          inFlight--;
          done.push(m);
        });
        const ids = Array.from({ length: 40 }, (_, i) => `drain-${i}`);
        await t.publish(topic, ids.map((id, i) => ({ id, key: `k${i}`, payload: Buffer.from(id) })));
        await started.untilCount(2, wait);
        await sub.close();
        expect(inFlight).toBe(0);
        expect(await sub.closed).toBeUndefined();
        const doneAtClose = done.messages.length;
        expect(doneAtClose).toBe(started.messages.length); // every started handler finished
        const rest = new Inbox();
        await subscribe(t, topic, { group: 'g', concurrency: 4 }, async (m) => rest.push(m));
        await rest.until(
          () => new Set([...done.ids(), ...rest.ids()]).size === ids.length,
          wait,
          () => `all ${ids.length} messages across both subscribers (got ${new Set([...done.ids(), ...rest.ids()]).size})`,
        );
        expect(new Set([...done.ids(), ...rest.ids()])).toEqual(new Set(ids));
      },
      [notPersistent],
    );

    // Where the group keeps the message for its next member; elsewhere (at-most-once) only that close() ends is checked.
    const redelivers = caps.redelivery && caps.persistentGroups;
    test(
      'close-gives-up',
      redelivers
        ? 'close() gives up on a handler that ignores its aborted signal after drainTimeoutMs; the group gets that message again'
        : `close() gives up on a handler that ignores its aborted signal after drainTimeoutMs (${name} does not redeliver: only that close() ends is checked)`,
      async () => {
        const t = await transport();
        const topic = topicFor('close-gives-up');
        const started = new Inbox();
        const stuck = Promise.withResolvers<void>();
        let aborted = false;
        try {
          const sub = await subscribe(t, topic, { group: 'g', drainTimeoutMs: 500 }, async (m, { signal }) => {
            started.push(m);
            signal.addEventListener('abort', () => (aborted = true));
            await stuck.promise; // a call that takes no signal and does not return
          });
          await t.publish(topic, { id: 'stuck-1', key: 'k', payload: Buffer.from('stuck') });
          await started.untilCount(1, wait);
          // Not a measure of speed: only that close() ends long before it would by itself (never).
          let timer: NodeJS.Timeout | undefined;
          const hung = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still waiting'), wait / 2)));
          const outcome = await Promise.race([sub.close().then(() => 'closed'), hung]);
          clearTimeout(timer);
          expect(outcome).toBe('closed');
          expect(aborted).toBe(true);
          if (!redelivers) return;
          const again = new Inbox();
          await subscribe(t, topic, { group: 'g' }, async (m) => again.push(m));
          await again.untilCount(1, wait);
          expect(again.messages[0]!.id).toBe('stuck-1');
        } finally {
          stuck.resolve(); // the abandoned handler returns now; nothing it does may break the transport
        }
      },
    );

    test(
      'group-resume',
      'a new member of a group continues after the last acknowledged message: nothing acknowledged again, nothing unacknowledged missed',
      async () => {
        const t = await transport();
        const topic = topicFor('group-resume');
        const first = new Inbox();
        const ids = Array.from({ length: 30 }, (_, i) => `resume-${i}`);
        const sub = await subscribe(t, topic, { group: 'g' }, async (m) => first.push(m));
        await t.publish(topic, ids.map((id) => ({ id, key: 'same', payload: Buffer.from(id) })));
        await first.untilCount(5, wait);
        await sub.close();
        const acked = first.ids();
        const t2 = await transport(); // a different connection, as a restarted process would have
        const second = new Inbox();
        await subscribe(t2, topic, { group: 'g' }, async (m) => second.push(m));
        await second.until(
          () => acked.size + second.ids().size >= ids.length,
          wait,
          () => `the ${ids.length - acked.size} unacknowledged messages (got ${second.ids().size})`,
        );
        const again = [...second.ids()].filter((id) => acked.has(id));
        expect(again, 'acknowledged messages delivered again').toEqual([]);
        expect(new Set([...acked, ...second.ids()])).toEqual(new Set(ids));
        // Same key, one member at a time: the second continues in order.
        expect(second.messages.map((m) => m.id)).toEqual(ids.slice(acked.size));
      },
      [notPersistent],
    );

    test(
      'replay',
      "from: 'earliest' replays messages published before the group existed",
      async () => {
        const t = await transport();
        const topic = topicFor('replay');
        const warm = new Inbox();
        // A first group makes sure the topic exists and has consumed everything.
        await subscribe(t, topic, { group: 'first', from: 'earliest' }, async (m) => warm.push(m));
        const ids = Array.from({ length: 25 }, (_, i) => `old-${i}`);
        await t.publish(topic, ids.map((id) => ({ id, key: 'k', payload: Buffer.from(id) })));
        await warm.untilCount(ids.length, wait);
        const late = new Inbox();
        await subscribe(t, topic, { group: 'late-joiner', from: 'earliest' }, async (m) => late.push(m));
        await late.untilCount(ids.length, wait);
        expect(late.messages.map((m) => m.id)).toEqual(ids);
      },
      [
        [caps.replay, `${name} does not keep consumed messages for new groups`],
        notPersistent,
      ],
    );

    test('latest', "from: 'latest' (the default) starts a new group after what was already published", async () => {
      const t = await transport();
      const topic = topicFor('latest');
      const warm = new Inbox();
      await subscribe(t, topic, { group: 'first' }, async (m) => warm.push(m));
      await t.publish(topic, Array.from({ length: 5 }, (_, i) => ({ id: `before-${i}`, payload: Buffer.from('x') })));
      await warm.untilCount(5, wait);
      const fresh = new Inbox();
      await subscribe(t, topic, { group: 'fresh' }, async (m) => fresh.push(m));
      await t.publish(topic, Array.from({ length: 5 }, (_, i) => ({ id: `after-${i}`, payload: Buffer.from('y') })));
      await fresh.untilCount(5, wait);
      await warm.untilCount(10, wait);
      expect([...fresh.ids()].toSorted()).toEqual(['after-0', 'after-1', 'after-2', 'after-3', 'after-4']);
    });

    test(
      'wildcards',
      'a pattern subscription (* and >) receives matching topics, including topics created after it',
      async () => {
        const t = await transport();
        const base = topicFor('wild');
        const star = new Inbox();
        const rest = new Inbox();
        await subscribe(t, `${base}.*.created`, { group: 'star', from: 'earliest' }, async (m) => star.push(m));
        await subscribe(t, `${base}.>`, { group: 'rest', from: 'earliest' }, async (m) => rest.push(m));
        await t.publish(`${base}.user.created`, { id: 'w1', payload: Buffer.from('1') });
        await t.publish(`${base}.order.created`, { id: 'w2', payload: Buffer.from('2') });
        await t.publish(`${base}.order.paid`, { id: 'w3', payload: Buffer.from('3') });
        await t.publish(`${base}.order.created.eu`, { id: 'w4', payload: Buffer.from('4') });
        await star.untilCount(2, wait);
        await rest.untilCount(4, wait);
        expect([...star.ids()].toSorted()).toEqual(['w1', 'w2']);
        expect([...rest.ids()].toSorted()).toEqual(['w1', 'w2', 'w3', 'w4']);
        expect(star.messages.find((m) => m.id === 'w2')!.topic).toBe(`${base}.order.created`);
      },
      [[caps.wildcards, `${name} does not support wildcard subscriptions`]],
    );

    test(
      'partitions',
      'gives each message a partition and an offset that grows within the partition',
      async () => {
        const t = await transport();
        const topic = topicFor('partitions');
        const inbox = new Inbox();
        await subscribe(t, topic, { group: 'g' }, async (m) => inbox.push(m));
        await t.publish(topic, Array.from({ length: 20 }, (_, i) => ({ key: 'same-key', payload: Buffer.from(String(i)) })));
        await inbox.untilCount(20, wait);
        const partitions = new Set(inbox.messages.map((m) => m.partition));
        expect(partitions.size).toBe(1);
        expect(typeof inbox.messages[0]!.partition).toBe('number');
        const offsets = inbox.messages.map((m) => BigInt(m.offset!));
        for (let i = 1; i < offsets.length; i++) expect(offsets[i]! > offsets[i - 1]!).toBe(true);
      },
      [[caps.partitions, `${name} has no partitions or offsets`]],
    );

    test('closed-publish', 'rejects publish and subscribe after close() with ClosedError', async () => {
      const t = await transport();
      const topic = topicFor('closed');
      await t.close();
      await t.close(); // idempotent
      const publishError = await t.publish(topic, { payload: Buffer.from('late') }).catch((e: unknown) => e);
      expect(isClosedError(publishError), String(publishError)).toBe(true);
      const subscribeError = await t.subscribe(topic, { group: 'g' }, async () => {}).catch((e: unknown) => e);
      expect(isClosedError(subscribeError), String(subscribeError)).toBe(true);
    });

    test('invalid-input', 'rejects invalid topics, groups, options and payloads with ConfigError, sending nothing', async () => {
      const t = await transport();
      const topic = topicFor('invalid');
      const attempts: Array<Promise<unknown>> = [
        t.subscribe('bad..topic', { group: 'g' }, ignore),
        t.subscribe('', { group: 'g' }, ignore),
        t.subscribe(topic, { group: '' }, ignore),
        t.subscribe(topic, { group: 'has space' }, ignore),
        t.subscribe(topic, { group: 'g', concurrency: 0 }, ignore),
        t.subscribe(topic, { group: 'g', from: 'middle' as 'earliest' }, ignore),
        t.subscribe(topic, { group: 'g', drainTimeoutMs: -1 }, ignore),
        t.publish('orders.*', { payload: Buffer.from('x') }),
        t.publish('white space', { payload: Buffer.from('x') }),
        t.publish(topic, { payload: 'not bytes' as unknown as Uint8Array }),
        t.publish(topic, { payload: Buffer.from('x'), headers: { n: 1 as unknown as string } }),
      ];
      for (const attempt of attempts) {
        const error = await attempt.then(
          () => new Error('expected a ConfigError, but the call succeeded'),
          (e: unknown) => e,
        );
        expect(isConfigError(error), String(error)).toBe(true);
        expect((error as Error).message.length).toBeGreaterThan(10);
      }
      // Nothing from the rejected batch reached the topic.
      const inbox = new Inbox();
      await subscribe(t, topic, { group: 'check', from: 'earliest' }, async (m) => inbox.push(m));
      await t.publish(topic, { id: 'valid', payload: Buffer.from('ok') });
      await inbox.untilCount(1, wait);
      expect(inbox.messages.map((m) => m.id)).toEqual(['valid']);
    });
  });
  describeEventTime(name, factory, capabilities, options);
}
