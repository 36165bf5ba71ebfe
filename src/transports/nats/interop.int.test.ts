import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { nats, planStream, type NatsTransport } from './index.ts';

const run = `sy-interop-${randomBytes(4).toString('hex')}`;
const url = new URL((process.env['SWITCHYARD_NATS_URL'] ?? 'nats://127.0.0.1:4222').split(',')[0]!);

/** A NATS client in a few lines of the text protocol: CONNECT, PUB/HPUB, PING — no client library. */
class RawNatsClient {
  readonly #socket: Socket;
  #buffer = '';
  #waiting: Array<{ token: string; resolve: () => void }> = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      if (this.#buffer.includes('PING\r\n')) {
        this.#buffer = this.#buffer.replaceAll('PING\r\n', '');
        socket.write('PONG\r\n');
      }
      for (const w of this.#waiting.slice()) {
        const at = this.#buffer.indexOf(w.token);
        if (at >= 0) {
          this.#buffer = this.#buffer.slice(at + w.token.length);
          this.#waiting.splice(this.#waiting.indexOf(w), 1);
          w.resolve();
        }
      }
    });
  }

  static async open(host: string, port: number): Promise<RawNatsClient> {
    const socket = tcpConnect({ host, port });
    const client = new RawNatsClient(socket);
    await client.#until('INFO ');
    socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, headers: true, protocol: 1, name: 'raw-interop' })}\r\n`);
    await client.ping();
    return client;
  }

  #until(token: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#buffer.includes(token)) {
        this.#buffer = this.#buffer.slice(this.#buffer.indexOf(token) + token.length);
        return resolve();
      }
      this.#waiting.push({ token, resolve });
      this.#socket.once('error', reject);
    });
  }

  /** PUB subject #bytes, then the payload. */
  pub(subject: string, payload: Buffer): void {
    this.#socket.write(Buffer.concat([Buffer.from(`PUB ${subject} ${payload.length}\r\n`), payload, Buffer.from('\r\n')]));
  }

  /** HPUB subject #header-bytes #total-bytes, then the header block and the payload. */
  hpub(subject: string, headers: Array<[string, string]>, payload: Buffer): void {
    const block = Buffer.from(`NATS/1.0\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`, 'utf8');
    this.#socket.write(
      Buffer.concat([Buffer.from(`HPUB ${subject} ${block.length} ${block.length + payload.length}\r\n`), block, payload, Buffer.from('\r\n')]),
    );
  }

  /** Resolves when the server answered a PING sent after everything before it. */
  ping(): Promise<void> {
    this.#socket.write('PING\r\n');
    return this.#until('PONG\r\n');
  }

  close(): void {
    this.#socket.destroy();
  }
}

describe('NATS interop with a plain protocol client', () => {
  const open: NatsTransport[] = [];
  afterAll(async () => {
    const js = open.find((t) => t.options.mode === 'jetstream');
    if (js) await js.native.manager!.streams.delete(planStream(`${run}.x`, js.options).name).catch(() => undefined);
    for (const t of open) await t.close();
  });

  for (const mode of ['jetstream', 'core'] as const) {
    it(`${mode}: consumes messages published with raw PUB and HPUB intact, headers included`, async () => {
      const bus = nats({ mode });
      open.push(bus);
      const topic = `${run}.${mode}.orders`;
      const inbox = new Inbox();
      await bus.subscribe(topic, { group: 'interop' }, async (m) => inbox.push(m));
      const raw = await RawNatsClient.open(url.hostname, Number(url.port || 4222));
      const binary = randomBytes(300);
      const before = Date.now();
      raw.pub(topic, Buffer.from('plain body'));
      raw.hpub(
        topic,
        [
          ['Nats-Msg-Id', 'raw-42'],
          ['Sy-Key', 'customer-7'],
          ['x-origin', 'raw-client'],
          ['x-unicode', 'zażółć — 日本語 🚀'],
          ['X-Mixed-Case', 'value with: colon'],
        ],
        binary,
      );
      await raw.ping();
      raw.close();
      await inbox.untilCount(2, 10_000);
      const [plain, withHeaders] = inbox.messages;
      expect(Buffer.from(plain!.payload).toString()).toBe('plain body');
      expect(plain!.headers).toEqual({});
      expect(plain!.key).toBe('');
      expect(plain!.id.length).toBeGreaterThan(0);
      expect(plain!.timestamp).toBeGreaterThanOrEqual(before - 1_000);
      expect(Buffer.from(withHeaders!.payload).equals(binary)).toBe(true);
      expect(withHeaders!.id).toBe('raw-42');
      expect(withHeaders!.key).toBe('customer-7');
      expect(withHeaders!.topic).toBe(topic);
      expect(withHeaders!.headers).toEqual({ 'x-origin': 'raw-client', 'x-unicode': 'zażółć — 日本語 🚀', 'X-Mixed-Case': 'value with: colon' });
      expect(withHeaders!.attempt).toBe(1);
    });

    it(`${mode}: a Sy-Time that is no time (0, negative, empty) gives the ${mode === 'jetstream' ? "stream's" : 'arrival'} time, one with a fraction its whole milliseconds`, async () => {
      const bus = nats({ mode });
      open.push(bus);
      const topic = `${run}.${mode}.times`;
      const inbox = new Inbox();
      await bus.subscribe(topic, { group: 'interop' }, async (m) => inbox.push(m));
      const raw = await RawNatsClient.open(url.hostname, Number(url.port || 4222));
      const odd = ['0', '-1700000000000', '', '1700000000123.75'];
      const before = Date.now();
      for (const [i, time] of odd.entries()) raw.hpub(topic, [['Nats-Msg-Id', `t-${i}`], ['Sy-Time', time]], Buffer.from(time));
      await raw.ping();
      const after = Date.now();
      raw.close();
      await inbox.untilCount(odd.length, 10_000);
      const byId = new Map(inbox.messages.map((m) => [m.id, m.timestamp]));
      for (const i of [0, 1, 2]) {
        expect(byId.get(`t-${i}`), `Sy-Time ${JSON.stringify(odd[i])}`).toBeGreaterThanOrEqual(before - 1);
        expect(byId.get(`t-${i}`)).toBeLessThanOrEqual(mode === 'jetstream' ? after + 1 : Date.now());
      }
      expect(byId.get('t-3')).toBe(1_700_000_000_123);
      // Each can be published again as it came, its time included, as a dead letter or bridge does.
      await bus.publish(`${topic}.again`, inbox.messages.map((m) => ({ id: m.id, payload: m.payload, timestamp: m.timestamp })));
    });
  }
});
