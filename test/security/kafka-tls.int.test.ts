import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError, isTransportError, type TransportError } from '../../src/core/errors.ts';
import type { Message } from '../../src/core/message.ts';
import { kafka, type KafkaTransport, type KafkaTransportOptions } from '../../src/transports/kafka/index.ts';
import { secureKafka } from '../../examples/12-transport-security/secure-transports.ts';
import { quickConsumer, startOwnCluster, uniqueTopic, type OwnCluster } from '../../src/transports/kafka/test-cluster.ts';
import { createTestPki, hasOpenssl, type TestPki } from './certs.ts';
import { captureLogs, connectFailure, nextWarning, type LogCapture } from './log-capture.ts';
import { startTlsProxy, type TlsProxy } from './tls-proxy.ts';

/**
 * The librdkafka mock cluster speaks plain TCP only (no SSL listener, no SaslHandshake /
 * SaslAuthenticate handlers), so TLS is terminated by a proxy in front of its broker, and the
 * broker advertises the proxy (`advertise` control command): every connection the client makes —
 * bootstrap, producer, consumer group — goes through the client's real TLS path. SASL cannot be
 * exercised against the mock; see docs/transport-security.md.
 */
const mockBin = join(process.env['KAFKA_MOCK_DIR'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'switchyard', 'kafka-mock'), 'bin', 'kafka-mock');
const missing = !hasOpenssl() ? 'openssl is not installed' : !existsSync(mockBin) ? `the Kafka mock cluster is not built (${mockBin}); run npm run services` : undefined;
if (missing) console.warn(`skipping Kafka TLS tests: ${missing}`);

const SASL_PASSWORD = 'kafka-sasl-pw-Rr52nd';

describe.skipIf(missing !== undefined)('Kafka over TLS (mock cluster behind a TLS-terminating proxy)', () => {
  let pki: TestPki;
  let cluster: OwnCluster;
  let proxy: TlsProxy; // the broker's advertised address: certificate for localhost/127.0.0.1
  let wrongHostProxy: TlsProxy; // a bootstrap address whose certificate names another host
  let mutualProxy: TlsProxy; // requires a client certificate
  let logs: LogCapture;
  const open: KafkaTransport[] = [];

  beforeAll(async () => {
    logs = captureLogs();
    pki = createTestPki();
    cluster = await startOwnCluster(['--brokers', '1']);
    const [host, port] = cluster.brokers[0]!.split(':');
    const target = { host: host!, port: Number(port) };
    [proxy, wrongHostProxy, mutualProxy] = await Promise.all([
      startTlsProxy({ target, cert: pki.server.cert, key: pki.server.key }),
      startTlsProxy({ target, cert: pki.wrongHostServer.cert, key: pki.wrongHostServer.key }),
      startTlsProxy({ target, cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert }),
    ]);
    await cluster.control(`advertise 1 127.0.0.1 ${proxy.port}`);
  });

  afterAll(async () => {
    await Promise.allSettled(open.map((t) => t.close()));
    await Promise.allSettled([proxy, wrongHostProxy, mutualProxy].map((p) => p?.close()));
    await cluster?.stop();
    pki?.dispose();
    logs?.stop();
  });

  const transport = (options: Partial<KafkaTransportOptions>): KafkaTransport => {
    const t = kafka({ brokers: [`127.0.0.1:${proxy.port}`], connectTimeoutMs: 3_000, consumer: quickConsumer, ...options });
    open.push(t);
    return t;
  };

  const connectError = (options: Partial<KafkaTransportOptions>): Promise<Error> => connectFailure(transport(options), logs);

  it('produces and consumes over verified TLS on every connection', async () => {
    // Configured exactly as docs/transport-security.md shows (without SASL: the mock has none).
    const bus = secureKafka({ SWITCHYARD_KAFKA_BROKERS: `127.0.0.1:${proxy.port}`, SWITCHYARD_TLS_CA_FILE: pki.ca.certFile });
    open.push(bus);
    const topic = uniqueTopic('tls');
    let received!: (m: Message) => void;
    const first = new Promise<Message>((resolve) => (received = resolve));
    await bus.publish(topic, { key: 'k', payload: new TextEncoder().encode('hello over tls') });
    await bus.subscribe(topic, { group: 'sec', from: 'earliest' }, async (m) => received(m));
    expect(new TextDecoder().decode((await first).payload)).toBe('hello over tls');
    expect(proxy.handshakeErrors).toEqual([]);
  });

  it('presents a client certificate to a listener that requires one (mutual TLS)', async () => {
    await transport({ brokers: [`127.0.0.1:${mutualProxy.port}`], tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key } }).connect();
    expect(mutualProxy.handshakeErrors).toEqual([]);
    // (Without a client certificate the listener hangs up; under TLS 1.3 the client sees only a
    // closed connection, which @platformatic/kafka retries for ~15 s: not worth the test time.)
  });

  it('rejects a broker certificate from an untrusted CA: verification is on by default', async () => {
    const error = await connectError({ tls: true });
    expect(isTransportError(error)).toBe(true);
    expect((error as TransportError).retryable).toBe(false);
    expect(error.message).toMatch(/TLS certificate not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\).*tls\.ca/);
  });

  it('rejects a certificate issued for another host name', async () => {
    const error = await connectError({ brokers: [`localhost:${wrongHostProxy.port}`], tls: { ca: pki.ca.cert } });
    expect(isTransportError(error)).toBe(true);
    expect(error.message).toMatch(/TLS host name mismatch \(ERR_TLS_CERT_ALTNAME_INVALID\).*wrong\.example\.test/);
  });

  it('connects without verification only with dangerouslySkipVerify (as tls or ssl), and warns', async () => {
    const warned = nextWarning('SWITCHYARD_TLS_VERIFY_OFF');
    const bus = transport({ brokers: [`localhost:${wrongHostProxy.port}`], ssl: { dangerouslySkipVerify: true } });
    expect((await warned).message).toMatch(/kafka: TLS certificate verification is OFF/);
    await bus.connect();
    expect(() => kafka({ brokers: ['127.0.0.1:9092'], tls: { rejectUnauthorized: false } })).toThrow(/tls\.rejectUnauthorized: false would switch certificate verification off silently/);
    expect(() => kafka({ brokers: ['127.0.0.1:9092'], tls: true, ssl: true })).toThrow(/tls or ssl .*not both/);
  });

  it('fails connect() with SASL configured against a broker that has no SASL, without showing the password', async () => {
    // What can be checked without a SASL-capable broker: the client starts the SASL handshake,
    // the mock hangs up, and the error carries no credential. Successful and refused logins are
    // not tested here (see docs/transport-security.md).
    const error = await connectError({ tls: { ca: pki.ca.cert }, sasl: { mechanism: 'SCRAM-SHA-256', username: 'app', password: SASL_PASSWORD } });
    expect(isTransportError(error) || isConfigError(error)).toBe(true);
    expect(() => kafka({ brokers: ['127.0.0.1:9092'], sasl: { mechanism: 'PLAIN', username: 'app' } })).toThrow(/sasl PLAIN needs password/);
  });

  it('refuses too-large payloads and headers before sending any message of the batch', async () => {
    const bus = transport({ tls: { ca: pki.ca.cert }, maxPayloadBytes: 1_024, maxHeaderBytes: 256 });
    const topic = uniqueTopic('limits');
    const payloadError = await bus.publish(topic, [{ payload: new TextEncoder().encode('small') }, { payload: new Uint8Array(1_025) }]).catch((e: unknown) => e as Error);
    logs.record(payloadError);
    expect(isConfigError(payloadError)).toBe(true);
    expect((payloadError as Error).message).toMatch(/message 1 \(id .+\): payload of 1025 bytes exceeds the limit of 1024 bytes; raise the transport's maxPayloadBytes option together with the broker's message.max.bytes/);
    const headerError = await bus.publish(topic, { payload: new TextEncoder().encode('small'), headers: { trace: 'x'.repeat(300) } }).catch((e: unknown) => e as Error);
    expect((headerError as Error).message).toMatch(/headers of 305 bytes exceed the limit of 256 bytes; raise the transport's maxHeaderBytes/);
    await bus.publish(topic, { payload: new TextEncoder().encode('marker') });
    const seen: string[] = [];
    let done!: () => void;
    const markerSeen = new Promise<void>((resolve) => (done = resolve));
    await bus.subscribe(topic, { group: 'sec', from: 'earliest' }, async (m) => {
      seen.push(new TextDecoder().decode(m.payload));
      if (seen.at(-1) === 'marker') done();
    });
    await markerSeen;
    expect(seen).toEqual(['marker']); // the topic holds nothing of the refused publishes
  });

  it('leaves no credential in any captured log line, warning or error', () => {
    expect(logs.lines().length).toBeGreaterThan(5);
    expect(logs.leaks([SASL_PASSWORD])).toEqual([]);
  });
});
