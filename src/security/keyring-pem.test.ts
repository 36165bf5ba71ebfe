import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../core/errors.ts';
import type { Message } from '../core/message.ts';
import { sign, verifier } from './signing.ts';

function failure(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw');
}

describe('signing keys given as PEM text', () => {
  const pair = generateKeyPairSync('ed25519');
  const privatePem = pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const publicPem = pair.publicKey.export({ format: 'pem', type: 'spki' }) as string;

  it('reads PEM that starts with a newline or spaces (as from an environment variable or a YAML block), instead of calling it bad base64', () => {
    const signer = sign({ keyId: 'billing-1', key: `\n${privatePem}` });
    const check = verifier({ keys: { 'billing-1': `  \n${publicPem}` } });
    const signed = signer('orders.placed', { id: 'm-1', payload: new TextEncoder().encode('{}'), headers: { 'content-type': 'application/json' } });
    expect(() => check({ topic: 'orders.placed', key: '', ...signed } as Message)).not.toThrow();
  });

  it('says that signing needs the private key when given the public PEM, not an OpenSSL decoder error', () => {
    const error = failure(() => sign({ keyId: 'billing-1', key: publicPem }));
    expect(isConfigError(error)).toBe(true);
    expect(error.message).toMatch(/sign key "billing-1": signing needs the Ed25519 private key, got a public key \(PEM "BEGIN PUBLIC KEY"\); sign with the private key and give the public one to verifiers/);
    expect(error.message).not.toMatch(/DECODER/);
  });
});
