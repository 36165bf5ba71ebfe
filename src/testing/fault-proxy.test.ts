import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { faultProxy, type FaultProxy } from './fault-proxy.ts';

/** A real TCP echo server on loopback: the "broker" behind the proxy. */
async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function reader(socket: Socket): (bytes: number) => Promise<string> {
  let buffer = '';
  let waiter: (() => void) | undefined;
  socket.on('data', (d) => {
    buffer += d.toString();
    waiter?.();
  });
  return async (bytes) => {
    while (buffer.length < bytes) await new Promise<void>((r) => (waiter = r));
    const out = buffer.slice(0, bytes);
    buffer = buffer.slice(bytes);
    return out;
  };
}

describe('faultProxy', () => {
  let proxy: FaultProxy | undefined;
  let echo: Awaited<ReturnType<typeof echoServer>> | undefined;
  afterEach(async () => {
    await proxy?.close();
    await echo?.close();
  });

  async function setup(): Promise<{ socket: Socket; read: (n: number) => Promise<string> }> {
    echo = await echoServer();
    proxy = await faultProxy({ target: { host: '127.0.0.1', port: echo.port } });
    const socket = connect(proxy.port, proxy.host);
    socket.on('error', () => {});
    await once(socket, 'connect');
    return { socket, read: reader(socket) };
  }

  it('forwards bytes both ways', async () => {
    const { socket, read } = await setup();
    socket.write('hello');
    expect(await read(5)).toBe('hello');
    expect(proxy!.connections).toBe(1);
  });

  it('adds latency per direction, keeping order', async () => {
    const { socket, read } = await setup();
    proxy!.latency(80, 'downstream');
    const start = performance.now();
    socket.write('ab');
    socket.write('cd');
    expect(await read(4)).toBe('abcd');
    expect(performance.now() - start).toBeGreaterThanOrEqual(75);
  });

  it('keeps order when the latency is lowered or healed while bytes are delayed', async () => {
    const { socket, read } = await setup();
    proxy!.latency(150, 'upstream');
    const start = performance.now();
    socket.write('1-first;');
    await new Promise((r) => setTimeout(r, 20)); // the first chunk is on its way, delayed
    proxy!.latency(0, 'upstream');
    socket.write('2-second;');
    await new Promise((r) => setTimeout(r, 20));
    proxy!.heal();
    socket.write('3-third;');
    expect(await read(25)).toBe('1-first;2-second;3-third;');
    // The later chunks waited for the first: nothing arrived before its 150 ms were up.
    expect(performance.now() - start).toBeGreaterThanOrEqual(145);
  });

  it('blackholes bytes silently without closing, then heals', async () => {
    const { socket, read } = await setup();
    proxy!.blackhole('upstream');
    let received = '';
    const collect = (d: Buffer): void => {
      received += d.toString();
    };
    socket.on('data', collect);
    socket.write('lost');
    // Prove the loss with a byte that does arrive: heal, send, and see only the new bytes echoed.
    await new Promise((r) => setTimeout(r, 100));
    expect(socket.destroyed).toBe(false);
    proxy!.heal();
    socket.write('kept');
    expect(await read(4)).toBe('kept');
    expect(received).toBe('kept');
  });

  it('resets connections with RST', async () => {
    const { socket } = await setup();
    const closed = new Promise((r) => socket.once('close', r));
    const errored = new Promise<NodeJS.ErrnoException>((r) => socket.once('error', r));
    proxy!.reset();
    const error = await errored;
    await closed;
    expect(error.code).toBe('ECONNRESET');
  });
});
