import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';
import { nats, planStream } from '../../src/transports/nats/index.ts';
import { describeTransport } from '../../src/testing/index.ts';

// A first token of its own per run: the suite's topics live in one stream, deleted afterwards.
const prefix = `sy-nats-js-${randomBytes(4).toString('hex')}`;
const options = { mode: 'jetstream' as const, consumers: { ackWaitMs: 10_000, redeliveryDelayMs: 50 } };
describeTransport('nats (JetStream)', () => nats(options), nats(options).capabilities, { topicPrefix: prefix });

afterAll(async () => {
  const admin = nats(options);
  await admin.connect();
  const stream = planStream(`${prefix}.x`, admin.options).name;
  await admin.native.manager!.streams.delete(stream).catch(() => undefined);
  await admin.close();
});
