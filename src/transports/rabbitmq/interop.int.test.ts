import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { Inbox } from '../../testing/inbox.ts';
import { rabbitmq, type RabbitMQTransport } from './index.ts';
import { defaultAmqpUrl } from './options.ts';
import { deleteDeclared } from './test-support.ts';

// Other AMQP clients on the same exchange: amqp-tools (Debian `amqp-tools`) and Python's pika
// (Debian `python3-pika`, run with the system /usr/bin/python3).
const run = randomBytes(4).toString('hex');
const exchange = `switchyard.interop.${run}`;
const url = defaultAmqpUrl();
const exec = promisify(execFile);
const made: RabbitMQTransport[] = [];
const bus = (): RabbitMQTransport => {
  const t = rabbitmq({ url, exchange });
  made.push(t);
  return t;
};
const has = (cmd: string, args: string[]): boolean => {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const noAmqpTools = has('amqp-publish', ['--help']) ? undefined : 'amqp-tools is not installed (apt-get install amqp-tools)';
const noPika = has('/usr/bin/python3', ['-c', 'import pika']) ? undefined : 'python3-pika is not installed (apt-get install python3-pika)';

afterAll(() => deleteDeclared(made));

/** Runs `cmd` with `input` on stdin. */
function run_(cmd: string, args: string[], input: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'buffer', timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} failed: ${error.message} ${stderr.toString()}`));
      else resolve(stdout.toString());
    });
    child.stdin!.end(input);
  });
}

const PIKA = String.raw`
import json, sys, pika
url, mode, exchange, topic, queue = sys.argv[1:6]
conn = pika.BlockingConnection(pika.URLParameters(url))
ch = conn.channel()
if mode == 'publish':
    ch.basic_publish(exchange, topic, bytes.fromhex(sys.argv[6]), pika.BasicProperties(
        message_id='pika-1', delivery_mode=2, headers={'trace': 't-9', 'x-unicode': 'zażółć 🚀', 'count': 42, 'flag': True}))
else:
    method, props, body = ch.basic_get(queue, auto_ack=True)
    print(json.dumps({'body': body.hex(), 'headers': {k: (v.decode() if isinstance(v, bytes) else v) for k, v in (props.headers or {}).items()}, 'id': props.message_id, 'persistent': props.delivery_mode == 2}))
conn.close()
`;

describe('rabbitmq interop with other AMQP clients', () => {
  it.skipIf(noAmqpTools)('consumes intact, headers included, what amqp-publish sent to the exchange', async () => {
    const t = bus();
    const topic = `interop.tools.${run}`;
    const inbox = new Inbox();
    await t.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    const body = randomBytes(512);
    await run_('amqp-publish', ['-u', url, '-e', exchange, '-r', topic, '-p', '-H', 'trace: t-1', '-H', 'x-unicode: zaż\u00f3łć gęślą 🚀'], body);
    await inbox.untilCount(1, 20_000);
    const m = inbox.messages[0]!;
    expect(m.topic).toBe(topic);
    expect(Buffer.from(m.payload).equals(body)).toBe(true);
    expect(m.headers).toEqual({ trace: 't-1', 'x-unicode': 'zaż\u00f3łć gęślą 🚀' });
    expect(m.attempt).toBe(1);
  });

  it.skipIf(noAmqpTools)('publishes what amqp-consume reads intact', async () => {
    const t = bus();
    const topic = `interop.consume.${run}`;
    await (await t.subscribe(topic, { group: 'tools' }, async () => {})).close(); // the queue stays, bound
    const body = Buffer.from('hello from switchyard — ünïcödé 🚀\n');
    await t.publish(topic, { id: 'sy-1', key: 'k', payload: body, headers: { trace: 't-2' } });
    const { stdout } = await exec('amqp-consume', ['-u', url, '-q', `${topic}.tools`, '-c', '1', 'cat'], { encoding: 'buffer', timeout: 30_000 });
    expect(Buffer.from(stdout).equals(body)).toBe(true);
  });

  it.skipIf(noPika)('round-trips with pika: bytes, ids and headers (typed headers arrive as text)', async () => {
    const t = bus();
    const topic = `interop.pika.${run}`;
    const inbox = new Inbox();
    await t.subscribe(topic, { group: 'g' }, async (m) => inbox.push(m));
    const body = randomBytes(256);
    await exec('/usr/bin/python3', ['-c', PIKA, url, 'publish', exchange, topic, '-', body.toString('hex')]);
    await inbox.untilCount(1, 20_000);
    const m = inbox.messages[0]!;
    expect(m.id).toBe('pika-1');
    expect(Buffer.from(m.payload).equals(body)).toBe(true);
    expect(m.headers).toEqual({ trace: 't-9', 'x-unicode': 'zażółć 🚀', count: '42', flag: 'true' });

    await (await t.subscribe(topic, { group: 'py' }, async () => {})).close();
    const sent = randomBytes(300);
    await t.publish(topic, { id: 'sy-2', key: 'order-7', payload: sent, headers: { trace: 't-3', 'x-unicode': 'ñ ✓' } });
    const { stdout } = await exec('/usr/bin/python3', ['-c', PIKA, url, 'get', exchange, topic, `${topic}.py`]);
    const got = JSON.parse(stdout) as { body: string; headers: Record<string, string>; id: string; persistent: boolean };
    expect(got.body).toBe(sent.toString('hex'));
    expect(got.id).toBe('sy-2');
    expect(got.persistent).toBe(true);
    expect(got.headers).toMatchObject({ trace: 't-3', 'x-unicode': 'ñ ✓', 'x-switchyard-key': 'order-7' });
  });
});
