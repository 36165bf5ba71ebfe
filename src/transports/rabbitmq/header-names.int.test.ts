import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { isolatedTransports } from './test-support.ts';

// Header names that are also Object.prototype members, against the real broker. Every name carries
// a run id; everything declared is deleted afterwards.
const run = randomBytes(4).toString('hex');
const { open, cleanUp } = isolatedTransports(run);
const WAIT = 20_000;

afterAll(cleanUp);

describe('rabbitmq header names', () => {
  it('delivers headers named constructor, toString, hasOwnProperty and __proto__ as own strings, also when redelivered', async () => {
    const bus = open();
    const topic = `header.names.${run}`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fails once, to be redelivered');
    });
    // JSON.parse makes "__proto__" an own property, as a header map from the network would have it.
    const headers = JSON.parse('{"constructor":"c-value","toString":"t-value","hasOwnProperty":"h-value","__proto__":"p-value","plain":"x"}') as Record<string, string>;
    await bus.publish(topic, { payload: Buffer.from('x'), headers });
    await inbox.untilCount(2, WAIT);
    for (const m of inbox.messages) {
      expect(Object.getPrototypeOf(m.headers), `attempt ${m.attempt}`).toBe(Object.prototype);
      expect(Object.keys(m.headers).sort()).toEqual(Object.keys(headers).sort());
      for (const name of Object.keys(headers)) expect(Object.getOwnPropertyDescriptor(m.headers, name)?.value, `${name}, attempt ${m.attempt}`).toBe(headers[name]);
    }
  });
});
