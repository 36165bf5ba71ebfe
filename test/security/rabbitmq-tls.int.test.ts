import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError, isTransportError, type TransportError } from '../../src/core/errors.ts';
import type { Message } from '../../src/core/message.ts';
import { rabbitmq, type RabbitMQOptions, type RabbitMQTransport } from '../../src/transports/rabbitmq/index.ts';
import { secureRabbitmq } from '../../examples/12-transport-security/secure-transports.ts';
import { createTestPki, hasOpenssl, type TestPki } from './certs.ts';
import { captureLogs, connectFailure, nextWarning, type LogCapture } from './log-capture.ts';
import { rabbitmqUnavailable, startTlsRabbit, type TlsRabbitNode } from './rabbitmq-tls-node.ts';

const missing = !hasOpenssl() ? 'openssl is not installed' : rabbitmqUnavailable();
if (missing) console.warn(`skipping RabbitMQ TLS/auth tests: ${missing}`);

// Credentials used by this file only; the last test checks none of them reached a log line.
const PASSWORD = 'rmq-pw-Hx71ka';
const WRONG_PASSWORD = 'rmq-wrong-pw-Tb39';
const SECRETS = [PASSWORD, WRONG_PASSWORD];
const VHOST = 'switchyard-secure';
const BROKER_MAX_MESSAGE = 65_536;

describe.skipIf(missing !== undefined)('RabbitMQ over TLS with a restricted user (private node)', () => {
  let pki: TestPki;
  let node: TlsRabbitNode;
  let logs: LogCapture;
  const open: RabbitMQTransport[] = [];

  beforeAll(async () => {
    logs = captureLogs();
    pki = createTestPki();
    node = await startTlsRabbit(pki, { maxMessageBytes: BROKER_MAX_MESSAGE });
    await node.ctl('add_vhost', VHOST);
    await node.ctl('add_user', 'app', PASSWORD);
    // The user may only touch Switchyard's exchange and names under "sec." in its own vhost, and
    // nothing in "/". Retry queues dead-letter through the default exchange: that needs write on amq.default.
    const own = '^(switchyard\\.topics|sec\\..*)$';
    await node.ctl('set_permissions', '-p', VHOST, 'app', own, '^(switchyard\\.topics|amq\\.default|sec\\..*)$', own);
  }, 240_000); // a RabbitMQ boot takes ~7 s, much longer on a loaded machine

  afterAll(async () => {
    await Promise.allSettled(open.map((t) => t.close()));
    await node?.dispose();
    pki?.dispose();
    logs?.stop();
  }, 120_000);

  const url = (password = PASSWORD, host = '127.0.0.1', port = node.port, vhost = VHOST): string =>
    `amqps://app:${password}@${host}:${port}/${encodeURIComponent(vhost)}`;

  const transport = (options: RabbitMQOptions): RabbitMQTransport => {
    const t = rabbitmq({ connectTimeoutMs: 20_000, reconnectDelayMs: { min: 100, max: 500 }, redeliveryDelaysMs: [0], onEvent: (e) => logs.record(e), ...options });
    open.push(t);
    return t;
  };

  const connectError = (options: RabbitMQOptions): Promise<Error> => connectFailure(transport(options), logs);

  /** Subscribes, runs `publish`, and resolves with the payload texts received up to and including "marker". */
  async function receiveUntilMarker(bus: RabbitMQTransport, topic: string, publish: () => Promise<void>): Promise<string[]> {
    const seen: string[] = [];
    let done!: () => void;
    const markerSeen = new Promise<void>((resolve) => (done = resolve));
    const sub = await bus.subscribe(topic, { group: 'sec' }, async (m: Message) => {
      seen.push(new TextDecoder().decode(m.payload.subarray(0, 16)));
      if (seen.at(-1) === 'marker') done();
    });
    await publish();
    await bus.publish(topic, { payload: new TextEncoder().encode('marker') });
    await markerSeen;
    await sub.close();
    return seen;
  }

  it('publishes and consumes over verified TLS as a user restricted to its vhost, with a client certificate', async () => {
    // Configured exactly as docs/transport-security.md shows.
    const bus = secureRabbitmq({
      SWITCHYARD_AMQP_URL: url(),
      SWITCHYARD_TLS_CA_FILE: pki.ca.certFile,
      SWITCHYARD_TLS_CERT_FILE: pki.client.certFile,
      SWITCHYARD_TLS_KEY_FILE: pki.client.keyFile,
    });
    open.push(bus);
    const seen = await receiveUntilMarker(bus, 'sec.orders', () => bus.publish('sec.orders', { payload: new TextEncoder().encode('hello over tls') }));
    expect(seen).toEqual(['hello over tls', 'marker']);
  });

  it("refuses what the user's vhost permissions do not allow, naming permissions as the fix", async () => {
    const bus = transport({ url: url(), tls: { ca: pki.ca.cert } });
    const error = await bus.subscribe('billing.invoices', { group: 'sec' }, async () => undefined).catch((e: unknown) => e as Error);
    logs.record(error);
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatch(/ACCESS_REFUSED.*check the credentials and the user’s permissions on the vhost/);
  });

  it('refuses a vhost the user has no access to, with its own error', async () => {
    const error = await connectError({ url: url(PASSWORD, '127.0.0.1', node.port, '/'), tls: { ca: pki.ca.cert } });
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/NOT_ALLOWED.*may not use this vhost/);
  });

  it('rejects a wrong password at once with an authentication ConfigError', async () => {
    const started = Date.now();
    const error = await connectError({ url: url(WRONG_PASSWORD), tls: { ca: pki.ca.cert } });
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/authentication failed \(ACCESS_REFUSED - .*RabbitMQ refused user "app"; check the user name and password/);
    expect(error.message).toContain('amqps://app:***@127.0.0.1');
    expect(Date.now() - started).toBeLessThan(15_000); // not retried until connectTimeoutMs
  });

  it('rejects a server certificate from an untrusted CA: verification is on by default', async () => {
    const error = await connectError({ url: url() }); // amqps:// alone: Node's public roots only
    expect(isTransportError(error)).toBe(true);
    expect((error as TransportError).retryable).toBe(false);
    // RabbitMQ sends its chain including the CA, hence "self-signed certificate in chain".
    expect(error.message).toMatch(/TLS certificate not trusted \(SELF_SIGNED_CERT_IN_CHAIN\).*tls\.ca/);
  });

  it('rejects a certificate that does not name the address connected to', async () => {
    const error = await connectError({ url: url(PASSWORD, '127.0.0.2', node.otherAddressPort), tls: { ca: pki.ca.cert } });
    expect(isTransportError(error)).toBe(true);
    expect(error.message).toMatch(/TLS host name mismatch \(ERR_TLS_CERT_ALTNAME_INVALID\).*127\.0\.0\.2/);
  });

  it('connects without verification only with dangerouslySkipVerify, and warns', async () => {
    const warned = nextWarning('SWITCHYARD_TLS_VERIFY_OFF');
    const bus = transport({ url: url(PASSWORD, '127.0.0.2', node.otherAddressPort), tls: { dangerouslySkipVerify: true } });
    const warning = await warned;
    expect(warning.message).toMatch(/rabbitmq: TLS certificate verification is OFF .*amqps:\/\/app:\*\*\*@127\.0\.0\.2/);
    await bus.connect();
    expect(() => rabbitmq({ url: url(), tls: { rejectUnauthorized: false } })).toThrow(/tls\.rejectUnauthorized: false would switch certificate verification off silently/);
  });

  it('refuses too-large payloads and headers before sending any message of the batch', async () => {
    const bus = transport({ url: url(), tls: { ca: pki.ca.cert }, maxPayloadBytes: 1_024, maxHeaderBytes: 256 });
    let payloadError: unknown;
    let headerError: unknown;
    const seen = await receiveUntilMarker(bus, 'sec.limits', async () => {
      payloadError = await bus.publish('sec.limits', [{ payload: new TextEncoder().encode('small') }, { payload: new Uint8Array(1_025) }]).catch((e: unknown) => e);
      headerError = await bus.publish('sec.limits', { payload: new TextEncoder().encode('small'), headers: { trace: 'x'.repeat(300) } }).catch((e: unknown) => e);
    });
    logs.record(payloadError);
    expect(isConfigError(payloadError)).toBe(true);
    expect((payloadError as Error).message).toMatch(/message 1 \(id .+\): payload of 1025 bytes exceeds the limit of 1024 bytes; raise the transport's maxPayloadBytes option together with the broker's max_message_size/);
    expect((headerError as Error).message).toMatch(/headers of 305 bytes exceed the limit of 256 bytes; raise the transport's maxHeaderBytes/);
    expect(seen).toEqual(['marker']);
  });

  it("reports the broker's own max_message_size when the client limit is set higher", async () => {
    const bus = transport({ url: url(), tls: { ca: pki.ca.cert }, maxPayloadBytes: 4 * BROKER_MAX_MESSAGE, publishAttempts: 1 });
    const error = await bus.publish('sec.broker-limit', { payload: new Uint8Array(BROKER_MAX_MESSAGE + 1) }).catch((e: unknown) => e as Error);
    logs.record(error);
    expect(error).toBeInstanceOf(Error);
    expect(isConfigError(error)).toBe(true);
    expect((error as Error).message).toMatch(/PRECONDITION_FAILED.*message size \d+ is larger than configured max size 65536 — the broker's max_message_size is lower/);
  });

  it('leaves no credential in any captured log line, warning, event or error', () => {
    expect(logs.lines().length).toBeGreaterThan(5);
    expect(logs.leaks(SECRETS)).toEqual([]);
  });
});
