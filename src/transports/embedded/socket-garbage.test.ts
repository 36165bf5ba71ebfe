import { mkdtempSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isConfigError } from '../../core/errors.ts';
import { Inbox } from '../../testing/inbox.ts';
import { spawnOwner } from './fixtures/spawn-owner.ts';
import { embedded, type EmbeddedTransport } from './index.ts';
import { PROTOCOL_WARNING, SOCKET_FILE } from './socket-server.ts';
import { FrameBuilder, FrameSplitter, Op, publishFrame } from './wire-protocol.ts';

// Regression: the owner's socket trusted every length prefix. An HTTP client pointed at
// broker.sock ("GET " read as a length of 517 MiB) was kept open, and a peer announcing a 4 GiB
// publish had everything it sent buffered; a hand-made subscribe with concurrency 2^32 − 1 was
// accepted, which takes every message of the topic out of the group at once.

const MiB = 1024 * 1024;
const temp = (): string => mkdtempSync(join(tmpdir(), 'sy-garbage-'));

interface Raw {
  socket: Socket;
  /** Resolves once the owner closed the connection. */
  closed: Promise<void>;
  /** The next `result` frame: ok and its JSON body. */
  result(): Promise<{ ok: boolean; body: unknown }>;
}

/** A plain Unix socket connection to the owner's broker.sock, speaking the protocol by hand. */
async function raw(dir: string): Promise<Raw> {
  const socket = connect(join(dir, SOCKET_FILE));
  socket.on('error', () => {}); // the owner resets connections it drops
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const results: Array<{ ok: boolean; body: unknown }> = [];
  let waiting: (() => void) | undefined;
  const splitter = new FrameSplitter((type, r) => {
    if (type !== Op.result) return;
    r.u32();
    const ok = r.u8() === 1;
    const text = r.str32();
    results.push({ ok, body: text === '' ? undefined : JSON.parse(text) });
    waiting?.();
  });
  socket.on('data', (chunk: Buffer) => splitter.push(chunk));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return {
    socket,
    closed,
    result: async () => {
      while (results.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
      return results.shift()!;
    },
  };
}

/** Resolves with the message of the next protocol warning this process emits. */
function nextProtocolWarning(): Promise<string> {
  return new Promise((resolve) => {
    const listener = (w: Error & { code?: string }): void => {
      if (w.code !== PROTOCOL_WARNING) return;
      process.off('warning', listener);
      resolve(w.message);
    };
    process.on('warning', listener);
  });
}

describe('the embedded owner socket, given what is not a well-formed frame', () => {
  let bus: EmbeddedTransport | undefined;
  afterEach(async () => {
    await bus?.close();
    bus = undefined;
  });

  async function owner(): Promise<string> {
    const dir = temp();
    bus = embedded({ dir, fsync: 'never' });
    await bus.connect();
    expect(bus.role).toBe('owner');
    return dir;
  }

  it('closes a connection that sends an HTTP request at once, with a warning, and other connections carry on', async () => {
    const dir = await owner();
    const other = await raw(dir);
    const inbox = new Inbox();
    await bus!.subscribe('t', { group: 'g', from: 'earliest' }, async (m) => inbox.push(m));

    const http = await raw(dir);
    const warned = nextProtocolWarning();
    http.socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n'); // and waits for an answer
    await http.closed;
    expect(await warned).toMatch(/unknown operation 47 .*HTTP client/);

    other.socket.write(publishFrame(1, 't', [{ id: 'after', key: '', headers: {}, payload: Buffer.from('x'), timestamp: Date.now() }]));
    expect(await other.result()).toEqual({ ok: true, body: undefined });
    await inbox.untilCount(1, 5_000);
    expect(inbox.messages[0]!.id).toBe('after');
    expect(other.socket.destroyed).toBe(false);
    other.socket.destroy();
  });

  it('closes a connection announcing a 4 GiB publish of one message as soon as its header is in, without waiting for the body', async () => {
    const dir = await owner();
    const peer = await raw(dir);
    const warned = nextProtocolWarning();
    // length, op, req, topic "t", count 1 — and nothing more: the owner must not wait for 4 GiB.
    const head = Buffer.alloc(4 + 1 + 4 + 2 + 1 + 4);
    head.writeUInt32LE(0xffff_ffff, 0);
    head[4] = Op.publish;
    head.writeUInt32LE(1, 5);
    head.writeUInt16LE(1, 9);
    head.write('t', 11);
    head.writeUInt32LE(1, 12);
    peer.socket.write(head);
    await peer.closed;
    expect(await warned).toMatch(/a publish of 1 messages announced \d+ bytes of records/);
  });

  for (const [name, frame, reason] of [
    ['an empty frame', Buffer.alloc(4), /empty frame/],
    ['an operation the owner only sends', new FrameBuilder(Op.deliver).u32(1).done(), /unknown operation 11/],
    ['an acks frame longer than any', Buffer.from([0x00, 0x00, 0x00, 0x40, Op.acks]), /operation 3 announced 1073741824 bytes/],
    // A subscribe whose group name runs past the end of the frame (it used to be read from whatever followed).
    ['a subscribe cut short', new FrameBuilder(Op.subscribe).u32(1).u32(1).str16('t').u32(0xffff).done(), /malformed frame/],
    ['a publish whose records do not add up', new FrameBuilder(Op.publish).u32(1).str16('t').u32(1).u32(200).bytes(Buffer.alloc(40)).done(), /malformed frame|publish of 1 messages/],
  ] as const) {
    it(`closes a connection that sends ${name}, with a warning saying why`, async () => {
      const dir = await owner();
      const peer = await raw(dir);
      const warned = nextProtocolWarning();
      peer.socket.write(frame);
      await peer.closed;
      expect(await warned).toMatch(reason);
    });
  }

  it('gives back the deliveries a connection held when it is closed for garbage', async () => {
    const dir = await owner();
    await bus!.publish('t', [{ id: 'held', payload: Buffer.from('x') }]);
    const peer = await raw(dir);
    const delivered = new Promise<void>((resolve) => peer.socket.once('data', () => resolve()));
    peer.socket.write(new FrameBuilder(Op.subscribe).u32(1).u32(1).str16('t').str16('g').u8(0).u32(2).u32(1).u32(MiB).done());
    await delivered; // the result and (in the same write, or the next) the delivery of "held"
    peer.socket.write('garbage!');
    await peer.closed;
    const inbox = new Inbox();
    await bus!.subscribe('t', { group: 'g', from: 'earliest' }, async (m) => inbox.push(m));
    await inbox.untilCount(1, 5_000);
    expect(inbox.messages[0]!.id).toBe('held');
  });

  it('refuses a subscribe asking for 2^32 − 1 handlers with a ConfigError answer, and the connection carries on', async () => {
    const dir = await owner();
    const peer = await raw(dir);
    peer.socket.write(new FrameBuilder(Op.subscribe).u32(1).u32(1).str16('t').str16('g').u8(0).u32(0xffff_ffff).u32(0xffff_ffff).u32(0xffff_ffff).done());
    const refused = await peer.result();
    expect(refused.ok).toBe(false);
    expect(refused.body).toMatchObject({ code: 'CONFIG' });
    expect(JSON.stringify(refused.body)).toMatch(/concurrency 4294967295 is out of range/);
    // An earlier client's frame (window only) as large is refused the same way.
    peer.socket.write(new FrameBuilder(Op.subscribe).u32(2).u32(2).str16('t').str16('g').u8(0).u32(0xffff_ffff).done());
    expect((await peer.result()).ok).toBe(false);
    peer.socket.write(new FrameBuilder(Op.subscribe).u32(3).u32(3).str16('t').str16('g').u8(0).u32(4 + 256).u32(4).u32(16 * MiB).done());
    expect(await peer.result()).toEqual({ ok: true, body: undefined });
    peer.socket.destroy();
  });
});

describe('an embedded subscription with more handlers than the owner runs', () => {
  it('is refused with a ConfigError in the owner and in a process connected through the socket', async () => {
    const dir = temp();
    const own = embedded({ dir, fsync: 'never', share: false });
    const handler = async (): Promise<void> => {};
    try {
      const error = await own.subscribe('t', { group: 'g', concurrency: 70_000 }, handler).catch((e: unknown) => e as Error);
      expect(isConfigError(error), String(error)).toBe(true);
      expect((error as Error).message).toMatch(/concurrency 70000 .*use at most 65535/);
    } finally {
      await own.close();
    }

    const ownerDir = temp();
    const owner = await spawnOwner(ownerDir);
    const client = embedded({ dir: ownerDir });
    try {
      await client.connect();
      expect(client.role).toBe('client');
      const error = await client.subscribe('t', { group: 'g', concurrency: 70_000 }, handler).catch((e: unknown) => e as Error);
      expect(isConfigError(error), String(error)).toBe(true);
      await client.subscribe('t', { group: 'g', concurrency: 65_535 }, handler);
    } finally {
      await client.close();
      await owner.stop();
    }
  });
});

describe('a large publish through the owner socket', () => {
  it('still carries a 320 MiB batch from a connected process', { timeout: 120_000 }, async () => {
    const dir = temp();
    const owner = await spawnOwner(dir, 1, { fsync: 'never' });
    const client = embedded({ dir });
    try {
      await client.connect();
      expect(client.role).toBe('client');
      const payload = Buffer.alloc(64 * MiB, 7);
      await client.publish('big', Array.from({ length: 5 }, (_, i) => ({ id: `big-${i}`, payload })));
      const info = (await client.inspect()).find((t) => t.topic === 'big')!;
      expect(info.partitions[0]!.endOffset).toBe(5);
    } finally {
      await client.close();
      await owner.stop();
    }
  });
});
