import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Router } from '../router/router.ts';
import { Inbox } from '../testing/inbox.ts';
import { nats, planStream, type NatsTransport } from '../transports/nats/index.ts';
import { deadLetter } from './dead-letter.ts';
import { quiet } from './harness.test-support.ts';

// Against the real nats-server (max_payload 1 MiB by default): a message that fits as published
// may not fit once deadLetter() adds its failure headers (the error, and a stack of up to 4,000
// characters). Refused, the dead letter failed on every delivery, and with JetStream's default
// (no maxDeliver) the message came back for ever.
const run = `sy-dl-size-${randomBytes(4).toString('hex')}`;

describe('deadLetter() of a message near the broker’s size limit', () => {
  const opened: NatsTransport[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((b) => b.close()));
    const admin = nats();
    await admin.connect();
    await admin.native.manager!.streams.delete(planStream(`${run}.x`, admin.options).name).catch(() => undefined);
    await admin.close();
  });

  it('sends it without the stack and with a short x-error when the full dead letter is refused', async () => {
    const bus = nats();
    opened.push(bus);
    await bus.connect();
    const limit = bus.native.connection.info!.max_payload;
    const topic = `${run}.near-limit`;
    const letters = new Inbox();
    await bus.subscribe(`${topic}.dlq`, { group: 'dlq-reader', from: 'earliest' }, async (m) => letters.push(m));
    const router = new Router({ logger: quiet, closeTransports: false }).handle(
      'near-limit',
      { from: bus, topic, group: 'g', start: 'earliest', use: [deadLetter({ maxAttempts: 1 })] },
      async () => {
        throw new Error(`cannot handle ${'e'.repeat(5_000)}`);
      },
    );
    await router.start();
    // Fits as published (with its id and time), not with the failure headers besides.
    const payload = new Uint8Array(limit - 1_000).fill(7);
    await bus.publish(topic, { id: 'near-1', payload });
    await letters.untilCount(1, 20_000);
    await router.stop();
    const letter = letters.messages[0]!;
    expect(letter.id).toBe('near-1');
    expect(letter.payload).toEqual(payload);
    expect(letter.headers['x-error-stack']).toBeUndefined();
    expect(letter.headers['x-error']).toMatch(/^Error: cannot handle e+…$/);
    expect(letter.headers['x-error']!.length).toBeLessThanOrEqual(200);
    expect(letter.headers).toMatchObject({ 'x-original-topic': topic, 'x-attempts': '1', 'x-handler': 'near-limit' });
  }, 60_000);
});
