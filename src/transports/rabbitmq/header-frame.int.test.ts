import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isConfigError, type ConfigError } from '../../core/errors.ts';
import type { Message } from '../../core/message.ts';
import { Inbox } from '../../testing/inbox.ts';
import { FRAME_MAX, headerFrameBytes } from './header-frame.ts';
import { isolatedTransports } from './test-support.ts';

// Metadata that must fit in one AMQP frame, against the real broker. Every name carries a run id;
// everything declared is deleted afterwards.
const run = randomBytes(4).toString('hex');
const { open, cleanUp } = isolatedTransports(run);
const text = (m: Message): string => Buffer.from(m.payload).toString();
const WAIT = 20_000;

afterAll(cleanUp);

describe('rabbitmq metadata larger than one frame', () => {
  it('refuses the whole batch with a ConfigError naming each message and the limit, and sends none of it', async () => {
    const bus = open();
    const topic = `frame.max.${run}`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    // 60,000 bytes by the maxHeaderBytes count, 180,000 encoded; a key is no header at all to that count.
    const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [i.toString(36).padStart(3, '0'), '']));
    const batch = [
      { payload: Buffer.from('before') },
      { id: 'many-headers', headers: many, payload: Buffer.from('bad') },
      { id: 'long-key', key: 'k'.repeat(140_000), payload: Buffer.from('bad') },
      { payload: Buffer.from('after') },
    ];
    const error = (await bus.publish(topic, batch).then(
      () => undefined,
      (e: unknown) => e,
    )) as ConfigError;
    expect(isConfigError(error)).toBe(true);
    expect(error.problems).toHaveLength(2);
    expect(error.problems[0]).toMatch(new RegExp(`^rabbitmq: publish to "${topic}", message 1 \\(id many-headers\\): .* take 18\\d{4} bytes .* more than the 131072 bytes one frame may hold`));
    expect(error.problems[1]).toMatch(new RegExp(`^rabbitmq: publish to "${topic}", message 2 \\(id long-key\\): .* take 14\\d{4} bytes`));
    // One publisher, one queue: anything of the batch that went out would arrive before this.
    await bus.publish(topic, { payload: Buffer.from('sentinel') });
    await inbox.untilCount(1, WAIT);
    expect(inbox.messages.map(text)).toEqual(['sentinel']);
  });

  it('delivers, and redelivers, a message whose metadata just fits', async () => {
    const bus = open({ maxHeaderBytes: 1 << 20 }); // only the frame limits it here
    const topic = `frame.fits.${run}`;
    const inbox = new Inbox();
    await bus.subscribe(topic, { group: 'g' }, async (m) => {
      inbox.push(m);
      if (m.attempt === 1) throw new Error('fails once: the redelivery adds headers and must fit too');
    });
    const headers = { big: 'v'.repeat(100_000), small: 'ü' };
    const sized = { id: `fits-${run}`, key: 'k', headers, payload: new Uint8Array(), timestamp: Date.now() };
    const key = 'k'.repeat(1 + FRAME_MAX - headerFrameBytes(sized, Buffer.byteLength(topic)));
    expect(headerFrameBytes({ ...sized, key }, Buffer.byteLength(topic))).toBe(FRAME_MAX);
    await bus.publish(topic, { id: sized.id, key, headers, payload: Buffer.from('fits') });
    await inbox.untilCount(2, WAIT);
    expect(inbox.messages.map((m) => [m.id, m.attempt, m.key.length, m.headers])).toEqual([
      [sized.id, 1, key.length, headers],
      [sized.id, 2, key.length, headers],
    ]);
    await expect(bus.publish(topic, { key: `${key}k`, headers, payload: Buffer.from('one byte more') })).rejects.toThrow(/more than the 131072 bytes one frame may hold/);
  });
});
