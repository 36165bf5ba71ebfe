import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { ConfigError } from '../core/errors.ts';

/** Key bytes, or the same bytes as a base64 string (how they usually come from a secret store). */
export type KeyBytes = Uint8Array | string;

/**
 * Encryption keys by id. `current` encrypts; every key in `keys` decrypts, so rotating is: add
 * the new key, make it current, and drop the old one once no message encrypted with it remains
 * (retention ran out, or every consumer has read past it).
 *
 * @example
 * ```ts
 * const keyring: Keyring = { current: 'k2', keys: { k1: process.env.ORDERS_KEY_1!, k2: process.env.ORDERS_KEY_2! } };
 * ```
 */
export interface Keyring {
  /** The id of the key new messages are encrypted with. */
  current: string;
  /** Every key that may have encrypted a message still around: 32 bytes each (AES-256). */
  keys: Readonly<Record<string, KeyBytes>>;
}

/**
 * A signing or verification key: HMAC-SHA-256 secret bytes (≥ 32, or base64 of them) or a
 * secret KeyObject; or an Ed25519 KeyObject or PEM string (private to sign; public, or private,
 * to verify).
 */
export type SigningKey = KeyBytes | KeyObject;

/** How a key signs. */
export type SignatureAlgorithm = 'hmac-sha256' | 'ed25519';

/** A signing key checked and converted to what node:crypto takes. */
export type ResolvedSigningKey = { alg: 'hmac-sha256'; secret: Buffer } | { alg: 'ed25519'; key: KeyObject };

const KEY_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** AES-256 key length. */
export const AES_KEY_BYTES = 32;
/** Shortest HMAC-SHA-256 secret accepted: the hash's own size (RFC 2104 advises no less). */
export const MIN_HMAC_BYTES = 32;

/** Key id problems, if any (ids travel in headers and header lists). */
export function keyIdProblems(what: string, id: unknown): string[] {
  if (typeof id !== 'string' || !KEY_ID.test(id)) {
    return [`${what}: key id ${JSON.stringify(id)} must be 1–64 characters of A–Z a–z 0–9 . _ : -`];
  }
  return [];
}

function bytesOf(what: string, material: KeyBytes, problems: string[]): Buffer | undefined {
  if (typeof material === 'string') {
    if (!BASE64.test(material)) {
      problems.push(`${what}: a string key must be base64 (padded, standard alphabet)`);
      return undefined;
    }
    return Buffer.from(material, 'base64');
  }
  if (material instanceof Uint8Array) return Buffer.from(material);
  problems.push(`${what}: expected a Uint8Array or a base64 string, got ${material === null ? 'null' : typeof material}`);
  return undefined;
}

/**
 * Checks a keyring and returns its keys as buffers, or throws one ConfigError naming every problem.
 *
 * @example
 * ```ts
 * const { current, keys } = resolveKeyring({ current: 'k1', keys: { k1: randomBytes(32) } });
 * ```
 */
export function resolveKeyring(keyring: Keyring): { current: string; keys: ReadonlyMap<string, Buffer> } {
  const problems: string[] = [];
  if (typeof keyring !== 'object' || keyring === null || typeof keyring.keys !== 'object' || keyring.keys === null) {
    throw new ConfigError('keyring: expected { current: "<key id>", keys: { "<key id>": <32 bytes or base64> } }');
  }
  const keys = new Map<string, Buffer>();
  for (const [id, material] of Object.entries(keyring.keys)) {
    const idProblems = keyIdProblems('keyring', id);
    problems.push(...idProblems);
    const bytes = bytesOf(`keyring key "${id}"`, material, problems);
    if (bytes && bytes.length !== AES_KEY_BYTES) problems.push(`keyring key "${id}": AES-256 needs ${AES_KEY_BYTES} bytes, got ${bytes.length}`);
    else if (bytes && idProblems.length === 0) keys.set(id, bytes);
  }
  if (typeof keyring.current !== 'string' || !Object.hasOwn(keyring.keys, keyring.current)) {
    problems.push(`keyring: current key ${JSON.stringify(keyring.current)} is not one of its keys (${Object.keys(keyring.keys).join(', ') || 'none'})`);
  }
  ConfigError.throwIfAny(problems);
  return { current: keyring.current, keys };
}

/**
 * Checks one signing key for `purpose` and converts it. Problems are pushed to `problems` (so a
 * caller can report every key's at once) and `undefined` is returned.
 */
export function resolveSigningKey(what: string, material: SigningKey, purpose: 'sign' | 'verify', problems: string[]): ResolvedSigningKey | undefined {
  if (material instanceof KeyObject) return fromKeyObject(what, material, purpose, problems);
  // PEM from an environment variable or a YAML block often starts with a newline or spaces: still
  // PEM (Node reads it), never base64 to be told it is not.
  const pem = typeof material === 'string' ? material.trimStart() : undefined;
  if (pem?.startsWith('-----BEGIN')) {
    if (purpose === 'sign' && pem.startsWith('-----BEGIN PUBLIC KEY-----')) {
      problems.push(`${what}: signing needs the Ed25519 private key, got a public key (PEM "BEGIN PUBLIC KEY"); sign with the private key and give the public one to verifiers`);
      return undefined;
    }
    try {
      return fromKeyObject(what, purpose === 'sign' ? createPrivateKey(pem) : createPublicKey(pem), purpose, problems);
    } catch (error) {
      problems.push(`${what}: cannot read the PEM key: ${(error as Error).message}`);
      return undefined;
    }
  }
  const secret = bytesOf(what, material as KeyBytes, problems);
  if (!secret) return undefined;
  const der = derKeyType(secret);
  if (der) {
    // Taken as an HMAC secret, a public key would let anyone who has it forge signatures with
    // alg hmac-sha256: the algorithm follows the key, so the key must not be guessed wrong.
    problems.push(
      `${what}: these bytes are a DER-encoded ${der} key, not an HMAC secret; pass it as a KeyObject ` +
        `(${der === 'public' ? "createPublicKey({ key, format: 'der', type: 'spki' })" : "createPrivateKey({ key, format: 'der', type: 'pkcs8' })"}) or as PEM`,
    );
    return undefined;
  }
  if (secret.length < MIN_HMAC_BYTES) {
    problems.push(`${what}: an HMAC-SHA-256 secret needs at least ${MIN_HMAC_BYTES} bytes, got ${secret.length}`);
    return undefined;
  }
  return { alg: 'hmac-sha256', secret };
}

/**
 * Whether bytes meant as an HMAC secret are in fact a DER-encoded asymmetric key (SPKI public or
 * PKCS #8 private), as a secret store holding `key.export({ format: 'der' })` hands it out. Random
 * secret bytes never parse as one: DER needs a SEQUENCE tag, consistent lengths and a known OID.
 */
function derKeyType(bytes: Buffer): 'public' | 'private' | undefined {
  if (bytes[0] !== 0x30) return undefined; // not a DER SEQUENCE: skip the parse attempts
  try {
    createPublicKey({ key: bytes, format: 'der', type: 'spki' });
    return 'public';
  } catch {
    // not SPKI: try PKCS #8
  }
  try {
    createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
    return 'private';
  } catch {
    return undefined;
  }
}

function fromKeyObject(what: string, key: KeyObject, purpose: 'sign' | 'verify', problems: string[]): ResolvedSigningKey | undefined {
  if (key.type === 'secret') {
    const secret = key.export();
    if (secret.length < MIN_HMAC_BYTES) {
      problems.push(`${what}: an HMAC-SHA-256 secret needs at least ${MIN_HMAC_BYTES} bytes, got ${secret.length}`);
      return undefined;
    }
    return { alg: 'hmac-sha256', secret };
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    problems.push(`${what}: only Ed25519 asymmetric keys are supported, got ${key.asymmetricKeyType ?? 'an unknown type'}`);
    return undefined;
  }
  if (purpose === 'sign') {
    if (key.type !== 'private') {
      problems.push(`${what}: signing needs the Ed25519 private key, got the public one`);
      return undefined;
    }
    return { alg: 'ed25519', key };
  }
  // A verifier only ever needs the public half; derive it so a private key is never used to verify.
  return { alg: 'ed25519', key: key.type === 'private' ? createPublicKey(key) : key };
}
