import { createPrivateKey, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, hasOpenssl, type TestPki } from '../../test/security/certs.ts';
import { isConfigError } from '../core/errors.ts';
import { resolveKafkaOptions } from '../transports/kafka/options.ts';
import { resolveNatsOptions } from '../transports/nats/options.ts';
import { resolveOptions as resolveRabbitOptions } from '../transports/rabbitmq/options.ts';
import { nodeTlsOptions, tlsError, tlsOptionProblems } from './transport-tls.ts';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

describe.skipIf(!hasOpenssl())('TLS options: ca, cert and key must be PEM text', () => {
  let pki: TestPki;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    pki = createTestPki();
    server = createServer({ cert: pki.server.cert, key: pki.server.key }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    pki.dispose();
  });

  /** Connects with the options a transport would pass to Node; resolves to the error text, or 'verified'. */
  const handshake = (tls: object): Promise<string> =>
    new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ...nodeTlsOptions(tls) });
      socket.once('secureConnect', () => {
        socket.destroy();
        resolve('verified');
      });
      socket.once('error', (error) => resolve(tlsError('test', error)?.message ?? String(error)));
    });

  it('refuses a ca given as a file path or as DER bytes on every transport: Node would ignore it and trust no CA', async () => {
    // Why: Node takes the path without a word, and the handshake then fails as "not trusted" with
    // advice to pass the CA — which the user did. The PEM text of the same file verifies.
    expect(await handshake({ ca: pki.ca.certFile })).toMatch(/TLS certificate not trusted/);
    expect(await handshake({ ca: pki.ca.cert })).toBe('verified');

    const caDer = new X509Certificate(pki.ca.cert).raw;
    for (const ca of [pki.ca.certFile, caDer, [pki.ca.cert, 'certs/intermediate.pem']]) {
      for (const resolve of [
        () => resolveRabbitOptions({ tls: { ca } }),
        () => resolveNatsOptions({ tls: { ca } as never }, {}), // typed string-only; a Buffer can still arrive from JS
        () => resolveKafkaOptions({ brokers: 'h:1', tls: { ca } }),
      ]) {
        const error = thrown(resolve);
        expect(isConfigError(error)).toBe(true);
        expect(error.message).toMatch(
          /tls\.ca must be PEM text \(with a -----BEGIN line\), not a file path or DER bytes: pass the file's contents, e\.g\. readFileSync\(path, 'utf8'\).*trust no CA at all/,
        );
        expect(error.message).not.toContain(pki.dir); // never echoed: it might as well be key material
      }
    }
    expect(tlsOptionProblems('tls', { ca: pki.ca.cert })).toEqual([]);
    expect(tlsOptionProblems('tls', { ca: [Buffer.from(pki.ca.cert), pki.otherCa.cert] })).toEqual([]);
  });

  it('refuses a client cert or key given as a file path or DER bytes, without echoing it', () => {
    const keyDer = createPrivateKey(pki.client.key).export({ type: 'pkcs8', format: 'der' });
    expect(tlsOptionProblems('tls', { cert: pki.client.certFile, key: pki.client.key })).toEqual([expect.stringMatching(/^tls\.cert must be PEM text/)]);
    expect(tlsOptionProblems('ssl', { cert: pki.client.cert, key: keyDer })).toEqual([expect.stringMatching(/^ssl\.key must be PEM text/)]);
    expect(tlsOptionProblems('tls', { cert: pki.client.cert, key: [{ pem: pki.client.keyFile, passphrase: 'x' }] })).toEqual([expect.stringMatching(/^tls\.key must be PEM text/)]);
    expect(tlsOptionProblems('tls', { cert: pki.client.cert, key: pki.client.key, ca: pki.ca.cert })).toEqual([]);
    expect(tlsOptionProblems('tls', { key: keyDer }).join()).not.toContain(keyDer.toString('base64').slice(0, 16));
  });
});
