import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isConfigError, isTransportError, type TransportError } from '../../src/core/errors.ts';
import type { Message } from '../../src/core/message.ts';
import { nats, type NatsOptions, type NatsTransport } from '../../src/transports/nats/index.ts';
import { secureNats } from '../../examples/12-transport-security/secure-transports.ts';
import { createTestPki, hasOpenssl, type TestPki } from './certs.ts';
import { captureLogs, connectFailure, nextWarning, type LogCapture } from './log-capture.ts';
import { hasNatsServer, startSecureNats, type SecureNatsServer } from './nats-secure-server.ts';

const missing = !hasOpenssl() ? 'openssl is not installed' : !hasNatsServer() ? 'nats-server is not installed (set SWITCHYARD_NATS_SERVER_BIN)' : undefined;
if (missing) console.warn(`skipping NATS TLS/auth tests: ${missing}`);

// Credentials used by this file only; the last test checks none of them reached a log line.
const PASSWORD = 'nats-pw-Zq81xv';
const TOKEN = 'nats-token-Kd02mw';
const WRONG_PASSWORD = 'nats-wrong-pw-Lp44';
const nkey = nkeys.createUser();
const SEED = new TextDecoder().decode(nkey.getSeed());
const SECRETS = [PASSWORD, TOKEN, WRONG_PASSWORD, SEED];
const MAX_PAYLOAD = 8_192;

describe.skipIf(missing !== undefined)('NATS over TLS with authentication (private nats-server)', () => {
  let pki: TestPki;
  let users: SecureNatsServer; // TLS + user/password + nkey, max_payload 8 KiB
  let token: SecureNatsServer; // TLS + token
  let mutual: SecureNatsServer; // TLS that requires a client certificate
  let wrongHost: SecureNatsServer; // TLS with a certificate for another host name
  let logs: LogCapture;
  const open: Array<{ close(): Promise<void> }> = [];

  const tls = (server: { certFile: string; keyFile: string }, extra = ''): string =>
    `tls { cert_file: "${server.certFile}", key_file: "${server.keyFile}", ca_file: "${pki.ca.certFile}"${extra} }`;

  beforeAll(async () => {
    logs = captureLogs();
    pki = createTestPki();
    [users, token, mutual, wrongHost] = await Promise.all([
      startSecureNats(
        `${tls(pki.server)}\nmax_payload: ${MAX_PAYLOAD}\nauthorization { users = [ { user: "alice", password: "${PASSWORD}" }, { nkey: "${nkey.getPublicKey()}" } ] }`,
      ),
      startSecureNats(`${tls(pki.server)}\nauthorization { token: "${TOKEN}" }`),
      startSecureNats(tls(pki.server, ', verify: true')),
      startSecureNats(tls(pki.wrongHostServer)),
    ]);
  });

  afterAll(async () => {
    await Promise.allSettled(open.map((t) => t.close()));
    await Promise.allSettled([users, token, mutual, wrongHost].map((s) => s?.dispose()));
    pki?.dispose();
    logs?.stop();
  });

  const transport = (options: NatsOptions) => {
    const t = nats({ reconnect: { maxReconnects: 0, connectTimeoutMs: 5_000 }, ...options });
    open.push(t);
    t.on('status', (status) => logs.record(status));
    return t;
  };

  const fromEnv = (env: Record<string, string>): NatsTransport => {
    const t = secureNats({ SWITCHYARD_TLS_CA_FILE: pki.ca.certFile, ...env });
    open.push(t);
    t.on('status', (status) => logs.record(status));
    return t;
  };

  /** Resolves with the first message the subscription receives. */
  async function roundTrip(bus: ReturnType<typeof nats>, topic: string): Promise<Message> {
    let received!: (m: Message) => void;
    const first = new Promise<Message>((resolve) => (received = resolve));
    const sub = await bus.subscribe(topic, { group: 'sec' }, async (m) => received(m));
    await bus.publish(topic, { payload: new TextEncoder().encode('hello over tls') });
    const m = await first;
    await sub.close();
    return m;
  }

  const connectError = (options: NatsOptions): Promise<Error> => connectFailure(transport(options), logs);

  it('publishes and consumes through JetStream with user/password over verified TLS', async () => {
    // Configured exactly as docs/transport-security.md shows.
    const bus = fromEnv({ SWITCHYARD_NATS_URL: `tls://127.0.0.1:${users.port}`, SWITCHYARD_NATS_USER: 'alice', SWITCHYARD_NATS_PASSWORD: PASSWORD });
    const m = await roundTrip(bus, 'sec.userpass');
    expect(new TextDecoder().decode(m.payload)).toBe('hello over tls');
  });

  it('authenticates with a token, and with an nkey seed', async () => {
    const byToken = fromEnv({ SWITCHYARD_NATS_URL: `tls://localhost:${token.port}`, SWITCHYARD_NATS_TOKEN: TOKEN });
    expect((await roundTrip(byToken, 'sec.token')).topic).toBe('sec.token');
    const byNkey = fromEnv({ SWITCHYARD_NATS_URL: `tls://127.0.0.1:${users.port}`, SWITCHYARD_NATS_NKEY_SEED: SEED });
    expect((await roundTrip(byNkey, 'sec.nkey')).topic).toBe('sec.nkey');
  });

  it('presents a client certificate to a server that requires one (mutual TLS)', async () => {
    const bus = transport({ servers: `tls://127.0.0.1:${mutual.port}`, mode: 'core', tls: { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key } });
    expect((await roundTrip(bus, 'sec.mtls')).topic).toBe('sec.mtls');
    // Without one the server ends the handshake; nats.js reports that only as a connect timeout.
    const without = await connectError({ servers: `tls://127.0.0.1:${mutual.port}`, mode: 'core', tls: { ca: pki.ca.cert }, reconnect: { maxReconnects: 0, connectTimeoutMs: 1_500 } });
    expect(isTransportError(without)).toBe(true);
  });

  it('rejects a wrong password with an authentication ConfigError that names what to check', async () => {
    // With the default reconnect settings (retry forever once connected): the first connect still fails at once.
    const bus = fromEnv({ SWITCHYARD_NATS_URL: `tls://127.0.0.1:${users.port}`, SWITCHYARD_NATS_USER: 'alice', SWITCHYARD_NATS_PASSWORD: WRONG_PASSWORD });
    const error = await bus.connect().then(
      () => new Error('connect() resolved but should have failed'),
      (e: unknown) => e as Error,
    );
    logs.record(error);
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/authentication failed .*refused these credentials; check auth/);
  });

  it('rejects a wrong token the same way', async () => {
    const error = await connectError({ servers: `tls://127.0.0.1:${token.port}`, tls: { ca: pki.ca.cert }, auth: { token: WRONG_PASSWORD } });
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/authentication failed/);
  });

  it('rejects a server certificate from an untrusted CA: verification is on by default', async () => {
    // No `ca`: only Node's public roots are trusted, which did not sign the test CA.
    const error = await connectError({ servers: `tls://127.0.0.1:${users.port}`, tls: {}, auth: { user: 'alice', pass: PASSWORD } });
    expect(isTransportError(error)).toBe(true);
    expect((error as TransportError).retryable).toBe(false);
    expect(error.message).toMatch(/TLS certificate not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\).*tls\.ca/);
  });

  it('rejects a certificate issued for another host name', async () => {
    const error = await connectError({ servers: `tls://localhost:${wrongHost.port}`, tls: { ca: pki.ca.cert } });
    expect(isTransportError(error)).toBe(true);
    expect(error.message).toMatch(/TLS host name mismatch \(ERR_TLS_CERT_ALTNAME_INVALID\).*wrong\.example\.test/);
  });

  it('connects without verification only with dangerouslySkipVerify, and warns', async () => {
    const warned = nextWarning('SWITCHYARD_TLS_VERIFY_OFF');
    const bus = transport({ servers: `tls://localhost:${wrongHost.port}`, mode: 'core', tls: { dangerouslySkipVerify: true } });
    expect((await warned).message).toMatch(/verification is OFF/);
    await bus.connect();
    expect(() => nats({ tls: { rejectUnauthorized: false } as never })).toThrow(/rejectUnauthorized: false would switch certificate verification off silently/);
  });

  it('refuses too-large payloads and headers before sending any message of the batch', async () => {
    const bus = transport({ servers: `tls://127.0.0.1:${users.port}`, mode: 'core', tls: { ca: pki.ca.cert }, auth: { user: 'alice', pass: PASSWORD }, maxHeaderBytes: 1_024 });
    const seen: string[] = [];
    let marker!: () => void;
    const markerSeen = new Promise<void>((resolve) => (marker = resolve));
    await bus.subscribe('sec.limits', { group: 'sec' }, async (m) => {
      seen.push(new TextDecoder().decode(m.payload.subarray(0, 6)));
      if (seen.at(-1) === 'marker') marker();
    });
    const small = { payload: new TextEncoder().encode('small!') };
    const big = { payload: new Uint8Array(MAX_PAYLOAD + 1) };
    const payloadError = await bus.publish('sec.limits', [small, big]).catch((e: unknown) => e as Error);
    logs.record(payloadError);
    expect(isConfigError(payloadError)).toBe(true);
    expect((payloadError as Error).message).toMatch(new RegExp(`message 1 \\(id .+\\): payload of ${MAX_PAYLOAD + 1} bytes exceeds the limit of ${MAX_PAYLOAD} bytes; raise the transport's maxPayloadBytes.*max_payload`));
    const headerError = await bus.publish('sec.limits', { payload: small.payload, headers: { note: 'x'.repeat(2_000) } }).catch((e: unknown) => e as Error);
    expect((headerError as Error).message).toMatch(/headers of 2004 bytes exceed the limit of 1024 bytes; raise the transport's maxHeaderBytes/);
    await bus.publish('sec.limits', { payload: new TextEncoder().encode('marker') });
    await markerSeen;
    expect(seen).toEqual(['marker']); // neither the small message of the refused batch nor the one with big headers went out
  });

  it('leaves no credential in any captured log line, warning, event or error', () => {
    expect(logs.lines().length).toBeGreaterThan(5);
    expect(logs.leaks(SECRETS)).toEqual([]);
  });
});
