import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { publishUntilRefused } from '../../testing/publish-until-refused.ts';
import { nats, NatsTransportError, planStream, type NatsTransport } from './index.ts';
import { startTestNatsServer, type TestNatsServer } from './test-server.test-support.ts';

/**
 * JetStream out of storage, for real: a private nats-server whose JetStream may keep 1 MiB, the
 * way a server answers once its max_file_store (or its disk) is used up.
 */
describe('NATS JetStream when the server has no storage left', () => {
  let server: TestNatsServer;
  let bus: NatsTransport;
  beforeAll(async () => {
    server = await startTestNatsServer({ config: 'jetstream { max_file_store: 1MB, max_memory_store: 1MB }\n' });
    bus = nats({ servers: server.url });
    await bus.connect();
  });
  afterAll(async () => {
    await bus.close();
    await server.dispose();
  });

  it('refuses the publish with the reason and what to do, delivers what was stored, and publishes again once space is freed', async () => {
    const inbox = new Inbox();
    await bus.subscribe('ledger.entries', { group: 'audit', from: 'earliest' }, async (m) => inbox.push(m));
    const { acked, refusal } = await publishUntilRefused(bus, 'ledger.entries', new Uint8Array(16 * 1024));
    expect(refusal).toBeInstanceOf(NatsTransportError);
    expect((refusal as NatsTransportError).reason).toBe('storage-full');
    expect((refusal as NatsTransportError).retryable).toBe(true);
    expect((refusal as Error).message).toMatch(/publish to "ledger\.entries".*JetStream has no storage left \(insufficient resources\).*max_file_store.*maxBytes, maxAge/);
    expect(acked.length).toBeGreaterThan(0);
    // Every acknowledged message is there to read.
    await inbox.until(() => acked.every((id) => inbox.ids().has(id)), 10_000, () => `the ${acked.length} acknowledged messages (got ${inbox.distinct})`);

    // Space freed (here by purging the stream): publishing works again without reconnecting.
    await bus.native.manager!.streams.purge(planStream('ledger.entries', bus.options).name);
    await bus.publish('ledger.entries', [{ id: 'after', payload: new Uint8Array(1) }]);
    await inbox.until(() => inbox.ids().has('after'), 10_000, () => 'the message published after the purge');
  });
});
