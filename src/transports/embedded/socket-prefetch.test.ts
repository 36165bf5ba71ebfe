import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Delivery } from './broker.ts';
import { embedded, type EmbeddedTransport } from './index.ts';
import { FrameBuilder, FrameSplitter, Op, Outcome } from './wire-protocol.ts';

const MiB = 1024 * 1024;
const COUNT = 24;

/** What the owner has sent the one member of group `group` on `topic` and not yet had settled. */
function outstanding(bus: EmbeddedTransport, topic: string, group: string): { count: number; bytes: number } {
  const member = bus.broker?.topics.get(topic)?.groups.get(group)?.members[0] as unknown as { out: Map<number, Delivery> } | undefined;
  let bytes = 0;
  for (const d of member?.out.values() ?? []) bytes += d.record.payload.length;
  return { count: member?.out.size ?? 0, bytes };
}

/** An owner holding COUNT unkeyed messages of 2 MiB on topic "blobs" (ids b-0…). */
async function ownerWithBlobs(): Promise<{ dir: string; bus: EmbeddedTransport }> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-prefetch-'));
  const bus = embedded({ dir, fsync: 'never', partitions: 1 });
  await bus.connect();
  for (let i = 0; i < COUNT; i += 4) {
    await bus.publish('blobs', Array.from({ length: 4 }, (_, j) => ({ id: `b-${i + j}`, payload: Buffer.alloc(2 * MiB, j) })));
  }
  return { dir, bus };
}

describe('embedded socket prefetch', () => {
  // Regression: the owner sent a process connected through the socket up to concurrency + 256
  // deliveries whatever their size — 256 messages of 16 MiB held 4 GiB in each of the two
  // processes while the handler was slow.
  it('sends a connected process a bounded number of bytes ahead of its handlers, then everything in order', async () => {
    const { dir, bus } = await ownerWithBlobs();
    const script = fileURLToPath(new URL('./fixtures/slow-subscriber.ts', import.meta.url));
    const child = spawn(process.execPath, [script, dir, 'blobs', String(COUNT), '1'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const got: string[] = [];
    const samples: Array<{ count: number; bytes: number }> = [];
    let done = false;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const first = new Promise<void>((resolve) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
          const line = out.slice(0, nl);
          out = out.slice(nl + 1);
          if (line.startsWith('got ')) {
            got.push(line.slice(4));
            samples.push(outstanding(bus, 'blobs', 'slow'));
            resolve();
          } else if (line === 'done') done = true;
        }
      });
    });
    try {
      await first;
      // The owner hands out what the limit allows as the subscription attaches, synchronously,
      // and nothing more until a handler finishes: this is all it sends while the handler waits.
      const held = outstanding(bus, 'blobs', 'slow');
      expect(held.count).toBeGreaterThanOrEqual(1);
      expect(held.count).toBeLessThan(COUNT);
      expect(held.bytes).toBeLessThanOrEqual(16 * MiB + 2 * MiB); // the limit, plus the delivery that crossed it
      child.stdin!.write('go\n');
      expect(await exited).toBe(0);
      expect(done).toBe(true);
      expect(got).toEqual(Array.from({ length: COUNT }, (_, i) => `b-${i}`));
      for (const s of samples) expect(s.bytes).toBeLessThanOrEqual(18 * MiB);
    } finally {
      child.kill();
      await bus.close();
    }
  });

  // A process of an earlier version subscribes without the trailing fields (concurrency and byte
  // budget): it is bounded as well, and gets every message.
  it('bounds and serves a subscriber that sends the earlier subscribe frame', async () => {
    const { dir, bus } = await ownerWithBlobs();
    const socket = connect(join(dir, 'broker.sock'));
    const received: string[] = [];
    const samples: Array<{ count: number; bytes: number }> = [];
    let subscribed = false;
    const all = new Promise<void>((resolve, reject) => {
      const splitter = new FrameSplitter((type, r) => {
        if (type === Op.result) {
          r.u32();
          if (r.u8() !== 1) reject(new Error(r.str32()));
          subscribed = true;
          return;
        }
        if (type !== Op.deliver) return;
        const sub = r.u32();
        const delivery = r.u32();
        r.str16();
        r.u32();
        r.u32();
        received.push(r.records()[0]!.id);
        samples.push(outstanding(bus, 'blobs', 'old')); // this process is the owner too: what it has out now
        if (received.length === COUNT) resolve();
        // Settled on the next turn, as a handler would: the owner's bound is checked meanwhile.
        setImmediate(() => socket.write(new FrameBuilder(Op.acks).u32(1).u32(sub).u32(delivery).u8(Outcome.ok).done()));
      });
      socket.on('data', (chunk: Buffer) => splitter.push(chunk));
      socket.on('error', reject);
    });
    try {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      // req, sub, pattern, group, from (earliest), window: concurrency 1 + the earlier prefetch of 256.
      socket.write(new FrameBuilder(Op.subscribe).u32(1).u32(1).str16('blobs').str16('old').u8(0).u32(1 + 256).done());
      await all;
      expect(subscribed).toBe(true);
      expect(received).toEqual(Array.from({ length: COUNT }, (_, i) => `b-${i}`));
      expect(samples[0]!.count).toBeLessThan(COUNT);
      for (const s of samples) expect(s.bytes).toBeLessThanOrEqual(18 * MiB);
    } finally {
      socket.destroy();
      await bus.close();
    }
  });
});
