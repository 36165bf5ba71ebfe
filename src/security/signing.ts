import { createHmac, sign as edSign, verify as edVerify, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../core/errors.ts';
import { newMessageId } from '../core/id.ts';
import type { Message, OutgoingMessage } from '../core/message.ts';
import type { Middleware } from '../router/types.ts';
import { canonical, headerFields, normalizeHeaderList, parseHeaderList, quoted } from './canonical.ts';
import { ENCRYPTED_CONTENT_TYPE_HEADER, ENCRYPTION_BOUND_HEADER, ENCRYPTION_KEY_HEADER, ENCRYPTION_TOPIC_HEADER } from './encrypted.ts';
import { VerificationError } from './errors.ts';
import { keyIdProblems, resolveSigningKey, type ResolvedSigningKey, type SignatureAlgorithm, type SigningKey } from './keyring.ts';

/** The signature, base64. */
export const SIGNATURE_HEADER = 'x-switchyard-sig';
/** The id of the key that signed. */
export const SIGNATURE_KEY_HEADER = 'x-switchyard-sig-key';
/** `hmac-sha256` or `ed25519`; checked against the verifier's key, never trusted on its own. */
export const SIGNATURE_ALG_HEADER = 'x-switchyard-sig-alg';
/** When it was signed, ms since epoch (covered by the signature; `maxAgeMs` checks it). */
export const SIGNED_AT_HEADER = 'x-switchyard-sig-at';
/** The sorted, comma-separated names of the headers the signature covers. */
export const SIGNED_HEADERS_HEADER = 'x-switchyard-sig-headers';

const LABEL = 'switchyard-sig-v1';
/** Headers signed by default: the content type, and the encryption headers when present. */
const DEFAULT_HEADERS = ['content-type', ENCRYPTION_KEY_HEADER, ENCRYPTED_CONTENT_TYPE_HEADER, ENCRYPTION_BOUND_HEADER, ENCRYPTION_TOPIC_HEADER];

/** How `sign()` signs. */
export interface SignOptions {
  /** The id verifiers look the key up by. */
  keyId: string;
  /** HMAC-SHA-256 secret (≥ 32 bytes or base64 of them) or an Ed25519 private KeyObject/PEM. */
  key: SigningKey;
  /**
   * Headers the signature covers besides topic, id, key, payload and signing time. Default:
   * `content-type` and the encryption headers, when present. Headers not covered (trace
   * context, say) may change in transit without breaking the signature.
   */
  headers?: readonly string[];
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Signs one outgoing message for a topic; returns a copy with the signature headers. */
export type Signer = (topic: string, message: OutgoingMessage) => OutgoingMessage;

/** The canonical bytes a signature covers. */
function signingInput(alg: SignatureAlgorithm, keyId: string, signedAt: string, topic: string, id: string, key: string, payload: Uint8Array, names: readonly string[], headers: Readonly<Record<string, string>>): Buffer {
  return canonical([LABEL, alg, keyId, signedAt, topic, id, key, payload, ...headerFields(names, headers)]);
}

function signature(k: ResolvedSigningKey, input: Buffer): Buffer {
  return k.alg === 'hmac-sha256' ? createHmac('sha256', k.secret).update(input).digest() : edSign(null, input, k.key);
}

/**
 * A signer for outgoing messages: HMAC-SHA-256 with a shared secret, or Ed25519 with a private
 * key (verifiers then hold only the public key, so a consumer cannot forge). The signature
 * covers, in a length-prefixed encoding: the algorithm, key id, signing time, topic, message id
 * (one is generated when absent, so dedup ids cannot be swapped), key, payload and the chosen
 * headers. It travels in `x-switchyard-sig*` headers. Sign after encrypting
 * (`signer(topic, encrypted(codec).encode(v))`): the encryption headers are covered by default.
 *
 * @example
 * ```ts
 * const signed = sign({ keyId: 'billing-2025', key: process.env.BILLING_HMAC_KEY! });
 * await bus.publish('orders.placed', signed('orders.placed', json().encode(order)));
 * ```
 */
export function sign(options: SignOptions): Signer {
  const problems = keyIdProblems('sign', options?.keyId);
  const key = resolveSigningKey(`sign key "${String(options?.keyId)}"`, options?.key, 'sign', problems);
  for (const name of options?.headers ?? []) {
    if (typeof name !== 'string' || name === '' || name.includes(',')) problems.push(`sign: headers entry ${JSON.stringify(name)} must be a header name without commas`);
  }
  ConfigError.throwIfAny(problems);
  const resolved = key!;
  const wanted = options.headers ? normalizeHeaderList(options.headers) : undefined;
  const now = options.now ?? Date.now;
  return function signer(topic, message) {
    const headers: Record<string, string> = { ...message.headers };
    for (const name of Object.keys(headers)) if (name.startsWith(SIGNATURE_HEADER)) delete headers[name]; // re-signing replaces
    const names = wanted ?? normalizeHeaderList(DEFAULT_HEADERS.filter((name) => Object.hasOwn(headers, name)));
    const missing = names.filter((name) => !Object.hasOwn(headers, name));
    if (missing.length > 0) throw new ConfigError(`sign: header(s) ${missing.join(', ')} are to be signed but the message does not have them`);
    const id = message.id ?? newMessageId();
    const signedAt = String(now());
    const input = signingInput(resolved.alg, options.keyId, signedAt, topic, id, message.key ?? '', message.payload, names, headers);
    headers[SIGNATURE_KEY_HEADER] = options.keyId;
    headers[SIGNATURE_ALG_HEADER] = resolved.alg;
    headers[SIGNED_AT_HEADER] = signedAt;
    headers[SIGNED_HEADERS_HEADER] = names.join(',');
    headers[SIGNATURE_HEADER] = signature(resolved, input).toString('base64');
    return { ...message, id, headers };
  };
}

/** How `verify()` checks. */
export interface VerifyOptions {
  /** Keys by id: HMAC secrets, or Ed25519 public keys (KeyObject or PEM). */
  keys: Readonly<Record<string, SigningKey>>;
  /** Headers the signature must cover (on top of what the sender chose). Default none. */
  headers?: readonly string[];
  /**
   * Reject signatures older than this (ms): limits how long a captured message can be replayed.
   * Messages that wait longer in a queue or are replayed from a DLQ later are rejected too.
   * Default: no limit.
   */
  maxAgeMs?: number;
  /** How far in the future a signing time may be (clock skew between hosts), ≥ 0. Default 60,000 ms. */
  maxClockSkewMs?: number;
  /** The clock, for tests. Default `Date.now`. */
  now?: () => number;
}

/** Checks a received message's signature; returns nothing or throws VerificationError. */
export type Verifier = (message: Pick<Message, 'topic' | 'id' | 'key' | 'payload' | 'headers'>) => void;

/**
 * A verifier for received messages (see `sign()`). Throws VerificationError, which is permanent,
 * naming what failed: missing signature header, unknown key id, algorithm not the key's,
 * required header not covered, signature too old, signature mismatch.
 *
 * @example
 * ```ts
 * const check = verifier({ keys: { 'billing-2025': secret } });
 * check(message); // throws VerificationError when it does not verify
 * ```
 */
export function verifier(options: VerifyOptions): Verifier {
  const problems: string[] = [];
  const keys = new Map<string, ResolvedSigningKey>();
  if (typeof options?.keys !== 'object' || options.keys === null || Object.keys(options.keys).length === 0) {
    problems.push('verify: keys must name at least one key: { keys: { "<key id>": <secret or public key> } }');
  } else {
    for (const [id, material] of Object.entries(options.keys)) {
      const idProblems = keyIdProblems('verify', id);
      problems.push(...idProblems);
      const key = resolveSigningKey(`verify key "${id}"`, material, 'verify', problems);
      if (key && idProblems.length === 0) keys.set(id, key);
    }
  }
  if (options?.maxAgeMs !== undefined && !(options.maxAgeMs > 0)) problems.push(`verify: maxAgeMs must be a positive number, got ${JSON.stringify(options.maxAgeMs)}`);
  // NaN (or a non-numeric string) makes the future check `-age > skew` never true, so a signing
  // time years ahead would pass and outlive any maxAgeMs; a negative one rejects fresh messages.
  if (options?.maxClockSkewMs !== undefined && !(typeof options.maxClockSkewMs === 'number' && options.maxClockSkewMs >= 0)) {
    problems.push(`verify: maxClockSkewMs must be a number ≥ 0 (ms), got ${typeof options.maxClockSkewMs === 'number' ? options.maxClockSkewMs : JSON.stringify(options.maxClockSkewMs)}`);
  }
  ConfigError.throwIfAny(problems);
  const required = normalizeHeaderList(options.headers ?? []);
  const skew = options.maxClockSkewMs ?? 60_000;
  const now = options.now ?? Date.now;

  return function verifySignature(message) {
    const at = { topic: message.topic, messageId: message.id };
    const h = message.headers;
    const fail = (reason: string): never => {
      throw new VerificationError(at, reason);
    };
    const header = (name: string): string => (Object.hasOwn(h, name) ? h[name]! : fail(`missing signature header ${name}`));
    const sig = header(SIGNATURE_HEADER);
    const keyId = header(SIGNATURE_KEY_HEADER);
    const alg = header(SIGNATURE_ALG_HEADER);
    const signedAt = header(SIGNED_AT_HEADER);
    const names = parseHeaderList(header(SIGNED_HEADERS_HEADER));
    const key = keys.get(keyId) ?? fail(`unknown key id ${quoted(keyId)}`);
    // The key decides the algorithm; the header only has to agree (no algorithm confusion).
    if (alg !== key.alg) fail(`algorithm ${quoted(alg)} is not the one of key ${quoted(keyId)} (${key.alg})`);
    const uncovered = required.filter((name) => !names.includes(name));
    if (uncovered.length > 0) fail(`header(s) ${uncovered.join(', ')} must be covered by the signature and are not`);
    const absent = names.filter((name) => !Object.hasOwn(h, name));
    if (absent.length > 0) fail(`signed header(s) ${absent.join(', ')} are missing`);
    if (!/^\d{1,16}$/.test(signedAt)) fail(`signing time ${quoted(signedAt)} is not a timestamp`);
    const age = now() - Number(signedAt);
    if (options.maxAgeMs !== undefined && age > options.maxAgeMs) fail(`signature is ${age} ms old, older than maxAgeMs ${options.maxAgeMs}`);
    if (-age > skew) fail(`signing time is ${-age} ms in the future (more than the ${skew} ms clock skew allowed)`);
    const given = Buffer.from(sig, 'base64');
    // Node's base64 decoder skips junk and missing padding: accept only the canonical form, so one
    // signature has exactly one spelling (nothing downstream can key on a variant).
    if (given.toString('base64') !== sig) fail(`signature header ${SIGNATURE_HEADER} is not canonical base64`);
    const input = signingInput(key.alg, keyId, signedAt, message.topic, message.id, message.key, message.payload, names, h);
    let ok: boolean;
    if (key.alg === 'hmac-sha256') {
      const want = createHmac('sha256', key.secret).update(input).digest();
      ok = given.length === want.length && timingSafeEqual(given, want);
    } else {
      ok = given.length === 64 && edVerify(null, input, key.key, given);
    }
    if (!ok) fail(`signature mismatch with key ${quoted(keyId)}: the payload, a signed field or header was altered, or it was signed with another key`);
  };
}

/**
 * Router middleware that verifies every message's signature before anything else looks at it.
 * A message that fails is a permanent error (VerificationError): with `deadLetter()` installed
 * (outside this one) it is dead-lettered with the reason, and the handler is never called.
 *
 * @example
 * ```ts
 * router.use(deadLetter(), verify({ keys: { 'billing-2025': secret }, maxAgeMs: 24 * 3_600_000 }));
 * ```
 */
export function verify(options: VerifyOptions): Middleware {
  const check = verifier(options);
  return async function verify(msg, _ctx, next) {
    check(msg);
    await next();
  };
}
