import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { isolatedTransports } from './test-support.ts';

// Bodies from other AMQP clients with a content type rabbitmq-client would decode, against the
// real broker. Every name carries a run id; everything declared is deleted afterwards.
const run = randomBytes(4).toString('hex');
const { open, cleanUp } = isolatedTransports(run);
const WAIT = 20_000;

afterAll(cleanUp);

describe('rabbitmq bodies of other clients', () => {
  it('reach the handler byte for byte whatever their content type, also when redelivered', async () => {
    const bus = open();
    const topic = `raw.body.${run}`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fails once: the republished copy must be unchanged too');
    });
    const bodies: Array<[string, Buffer]> = [
      ['application/json', Buffer.from('{"amount": 12345678901234567890, "price": 1.10}')], // JSON.parse would round and re-space it
      ['text/plain', Buffer.from([0x68, 0x69, 0xff, 0xfe, 0x00])], // not UTF-8: decoding would put U+FFFD in
      ['application/json', Buffer.from('not json {')],
      ['application/octet-stream', randomBytes(64)],
    ];
    // Another client: rabbitmq-client's own publisher sends a Buffer body with the property as given.
    const other = bus.native.connection.createPublisher({ confirm: true });
    try {
      for (const [i, [contentType, body]] of bodies.entries()) {
        await other.send({ exchange: bus.options.exchange, routingKey: topic, contentType, messageId: `other-${i}`, durable: true }, body);
      }
    } finally {
      await other.close();
    }
    await inbox.untilCount(2 * bodies.length, WAIT);
    for (const [i, [contentType, body]] of bodies.entries()) {
      const copies = inbox.messages.filter((m) => m.id === `other-${i}`);
      expect(copies.map((m) => m.attempt), contentType).toEqual([1, 2]);
      for (const m of copies) {
        expect(Buffer.from(m.payload).toString('hex'), `${contentType}, attempt ${m.attempt}`).toBe(body.toString('hex'));
        expect(m.headers).toEqual({ 'content-type': contentType });
      }
    }
  });
});
