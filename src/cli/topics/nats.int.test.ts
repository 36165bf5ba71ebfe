import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { nats, type NatsTransport } from '../../transports/nats/index.ts';
import { listNatsStreams } from './nats.ts';

// Against the real NATS server (JetStream) at SWITCHYARD_NATS_URL or 127.0.0.1:4222. Streams are
// this file's own (a random run id in their names) and deleted afterwards.

const servers = process.env['SWITCHYARD_NATS_URL'] ?? 'nats://127.0.0.1:4222';
const run = randomBytes(4).toString('hex');
const bus: NatsTransport = nats({ servers, mode: 'jetstream' });
const created: string[] = [];

afterAll(async () => {
  const jsm = bus.native.manager;
  for (const name of created) await jsm?.streams.delete(name).catch(() => undefined);
  await bus.close();
});

/** A stream of this run named `sy-topics-<run>-<suffix>` on `sy-topics-<run>.<suffix>.>`, holding one message, with one durable consumer. */
async function stream(suffix: string): Promise<string> {
  const name = `sy-topics-${run}-${suffix}`;
  const subject = `sy-topics-${run}.${suffix}`;
  const jsm = bus.native.manager!;
  await jsm.streams.add({ name, subjects: [`${subject}.>`] });
  created.push(name);
  await bus.native.jetstream!.publish(`${subject}.placed`, new Uint8Array([1]));
  await jsm.consumers.add(name, { durable_name: `g-${suffix}`, filter_subject: `${subject}.>` });
  return name;
}

describe('listNatsStreams', () => {
  it('leaves out a stream deleted while the streams are being read, and lists the rest', async () => {
    await bus.connect();
    const [a, b, c] = [await stream('a'), await stream('b'), await stream('c')];
    const jsm = bus.native.manager!;
    const ours = `sy-topics-${run}.`;
    const deleted: string[] = [];
    // b is deleted after the server listed it, before its info is read; a after its info was
    // read, before its consumers are listed. c stays.
    const listing = await listNatsStreams(
      bus,
      (topic) => topic.startsWith(ours),
      async (name, step) => {
        if ((name === b && step === 'listed') || (name === a && step === 'read')) {
          await jsm.streams.delete(name);
          deleted.push(name);
        }
      },
    );
    expect(deleted.sort()).toEqual([a, b]);
    expect(listing.map((s) => s.stream)).toEqual([c]);
    expect(listing[0]!.topics).toEqual([{ topic: `${ours}c.placed`, messages: 1 }]);
  });
});
