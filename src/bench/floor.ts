import { spawn } from 'node:child_process';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { timed } from './stats.ts';
import type { Sample } from './types.ts';

/** Bytes of framing our log adds per record (length, CRC, offset, timestamp, sizes): the floor writes the same. */
export const RECORD_OVERHEAD = 40;

export interface AppendFloorOptions {
  recordSize: number;
  records: number;
  /** Records per write() call. */
  batch: number;
  /** One fdatasync per batch, or none. */
  fsync: boolean;
  dir?: string;
}

/**
 * The physical floor for a log: the same bytes a broker would write, in the same batch sizes,
 * with plain synchronous file writes and (optionally) one fdatasync per batch. Nothing a broker
 * does on this disk can beat it.
 */
export async function rawAppend(options: AppendFloorOptions): Promise<Sample> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'switchyard-floor-'));
  const file = join(dir, 'floor.log');
  const chunk = Buffer.alloc(options.batch * (options.recordSize + RECORD_OVERHEAD), 7);
  const fd = openSync(file, 'w');
  try {
    return await timed(async () => {
      let written = 0;
      while (written < options.records) {
        const n = Math.min(options.batch, options.records - written);
        writeSync(fd, chunk, 0, n * (options.recordSize + RECORD_OVERHEAD));
        if (options.fsync) fdatasyncSync(fd);
        written += n;
      }
      return written;
    });
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
  }
}

const SENDER = `
const net = require('node:net');
const [port, frames, size] = process.argv.slice(1).map(Number);
const socket = net.connect(port, '127.0.0.1', () => {
  socket.setNoDelay(true);
  const perWrite = 256;
  const chunk = Buffer.alloc(perWrite * size, 1);
  let sent = 0;
  const pump = () => {
    while (sent < frames) {
      const n = Math.min(perWrite, frames - sent);
      sent += n;
      if (!socket.write(n === perWrite ? chunk : chunk.subarray(0, n * size))) return socket.once('drain', pump);
    }
    socket.end();
  };
  pump();
});
`;

/**
 * Loopback TCP throughput between two processes: a child writes `frames` frames of `size` bytes
 * as fast as the socket takes them; this process reads them. The floor for any broker on this
 * machine, since every message crosses loopback at least twice.
 */
export async function loopbackTcp(frames: number, size: number): Promise<Sample> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    return await timed(
      () =>
        new Promise<number>((resolve, reject) => {
          let bytes = 0;
          server.once('connection', (socket) => {
            socket.on('data', (d: Buffer) => (bytes += d.length));
            socket.on('end', () => resolve(bytes / size));
            socket.on('error', reject);
          });
          const child = spawn(process.execPath, ['-e', SENDER, String(port), String(frames), String(size)], { stdio: 'inherit' });
          child.on('error', reject);
        }),
    );
  } finally {
    server.close();
  }
}
