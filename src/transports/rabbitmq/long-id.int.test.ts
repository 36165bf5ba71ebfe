import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isTransportError } from '../../core/errors.ts';
import { Inbox } from '../../testing/inbox.ts';
import { isolatedTransports } from './test-support.ts';

// Ids longer than AMQP's 255-byte message-id, against the real broker. Every name carries a run
// id; everything declared is deleted afterwards.
const run = randomBytes(4).toString('hex');
const { open, cleanUp } = isolatedTransports(run);
const WAIT = 20_000;
const prefix = 'order-'.padEnd(255, 'x');
// Two that differ only past byte 255, and two whose 255th byte is inside a character.
const ids = [`${prefix}-A`, `${prefix}-B`, 'é'.repeat(128), `${'🚀'.repeat(64)}x`];

afterAll(cleanUp);

describe('rabbitmq message ids over 255 bytes', () => {
  it('arrive exactly as published and stay distinct, also when redelivered', async () => {
    const bus = open();
    const topic = `long.id.${run}`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.id === ids[1] && m.attempt === 1) throw new Error('fails once, to be redelivered');
    });
    await bus.publish(topic, ids.map((id, i) => ({ id, payload: Buffer.from([i]) })));
    await inbox.untilCount(ids.length + 1, WAIT);
    expect(inbox.messages.map((m) => [m.id, m.attempt, Buffer.from(m.payload)[0]])).toEqual([
      [ids[0], 1, 0],
      [ids[1], 1, 1],
      [ids[2], 1, 2],
      [ids[3], 1, 3],
      [ids[1], 2, 1],
    ]);
    expect(inbox.messages.every((m) => Object.keys(m.headers).length === 0)).toBe(true); // the id header is Switchyard's own
  });

  it('show other clients a distinct message-id of at most 255 bytes, and the whole id in x-switchyard-id', async () => {
    const bus = open();
    const topic = `long.id.native.${run}`;
    await (await bus.subscribe(topic, { group: 'other' }, async () => {})).close(); // the queue stays, bound
    await bus.publish(topic, ids.map((id) => ({ id, payload: Buffer.from('x') })));
    const seen: Array<{ messageId: string; whole: unknown }> = [];
    for (let i = 0; i < ids.length; i++) {
      const got = await bus.native.connection.basicGet({ queue: bus.queueFor(topic, 'other'), noAck: true });
      expect(got, `message ${i}`).toBeDefined();
      seen.push({ messageId: got!.messageId!, whole: got!.headers?.['x-switchyard-id'] });
    }
    expect(seen.map((s) => s.whole)).toEqual(ids);
    for (const { messageId } of seen) {
      expect(Buffer.byteLength(messageId)).toBeLessThanOrEqual(255);
      expect(messageId).not.toContain('\uFFFD'); // no character cut in half
    }
    expect(new Set(seen.map((s) => s.messageId)).size).toBe(ids.length);
  });

  it('with mandatory, reject a publish of a long id that reached no queue', async () => {
    const bus = open({ mandatory: true });
    const topic = `long.id.nobody.${run}`;
    const error: unknown = await bus.publish(topic, { id: 'x'.repeat(300), payload: Buffer.from('x') }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isTransportError(error)).toBe(true);
    expect((error as Error).message).toContain(`1 of 1 message(s) to "${topic}" reached no queue`);
    // Bound, the same long id is confirmed as delivered.
    await (await bus.subscribe(topic, { group: 'g' }, async () => {})).close();
    await expect(bus.publish(topic, { id: 'x'.repeat(300), payload: Buffer.from('x') })).resolves.toBeUndefined();
  });
});
