import { X509Certificate } from 'node:crypto';
import { basename } from 'node:path';
import { createSecureContext } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPki, hasOpenssl, type TestPki } from '../../test/security/certs.ts';
import { isConfigError } from '../core/errors.ts';
import { resolveKafkaOptions } from '../transports/kafka/options.ts';
import { resolveNatsOptions } from '../transports/nats/options.ts';
import { resolveOptions as resolveRabbitOptions } from '../transports/rabbitmq/options.ts';
import { tlsOptionProblems } from './transport-tls.ts';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

describe.skipIf(!hasOpenssl())('TLS options: a ca that is not PEM in any form is refused by name', () => {
  let pki: TestPki;
  beforeAll(() => {
    pki = createTestPki();
  });
  afterAll(() => pki.dispose());

  it('refuses a name, a bare file name, base64 without the BEGIN line, an empty string or a number, on every transport', () => {
    const base64Body = new X509Certificate(pki.ca.cert).raw.toString('base64');
    const headerless = pki.ca.cert.split('\n').filter((line) => !line.startsWith('-----')).join('\n');
    const values: unknown[] = ['company-root-ca', basename(pki.ca.certFile).replace(/\.\w+$/, ''), base64Body, headerless, '', 42];
    for (const ca of values) {
      // Why: Node takes every one of these strings without a word and trusts no CA at all, so the
      // first handshake fails as "certificate not trusted" although a CA was configured.
      if (typeof ca === 'string') expect(() => createSecureContext({ ca })).not.toThrow();
      for (const resolve of [
        () => resolveRabbitOptions({ tls: { ca } as never }),
        () => resolveNatsOptions({ tls: { ca } as never }, {}),
        () => resolveKafkaOptions({ brokers: 'h:1', tls: { ca } as never }),
      ]) {
        const error = thrown(resolve);
        expect(isConfigError(error), `ca ${JSON.stringify(ca).slice(0, 20)}`).toBe(true);
        expect(error.message).toMatch(/tls\.ca must be PEM text \(with a -----BEGIN line\)/);
        if (typeof ca === 'string' && ca.length > 3) expect(error.message).not.toContain(ca); // never echoed: it might be key material
      }
    }
    // A cert or key without the header fails later too ("no start line"): named now instead.
    expect(tlsOptionProblems('tls', { cert: 'client-cert', key: pki.client.key })).toEqual([expect.stringMatching(/^tls\.cert must be PEM text/)]);
    expect(tlsOptionProblems('tls', { cert: pki.client.cert, key: [{ pem: 'client-key', passphrase: 'x' }] })).toEqual([expect.stringMatching(/^tls\.key must be PEM text/)]);
    // The real thing still passes: PEM text, as a string, bytes or a list.
    expect(tlsOptionProblems('tls', { ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key })).toEqual([]);
    expect(tlsOptionProblems('tls', { ca: [Buffer.from(pki.ca.cert), pki.otherCa.cert] })).toEqual([]);
  });
});
