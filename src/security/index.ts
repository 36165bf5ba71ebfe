/**
 * `switchyard/security`: message-level protection that works on any transport — AES-256-GCM
 * payload encryption with key rotation, HMAC-SHA-256 / Ed25519 signatures — and the token
 * guard for HTTP endpoints bound beyond loopback. node:crypto only.
 */
export { canonical } from './canonical.ts';
export { DecryptionError, VerificationError } from './errors.ts';
export {
  encrypted,
  ENCRYPTED_CONTENT_TYPE,
  ENCRYPTED_CONTENT_TYPE_HEADER,
  ENCRYPTION_BOUND_HEADER,
  ENCRYPTION_KEY_HEADER,
  ENCRYPTION_TOPIC_HEADER,
  type EncryptedCodec,
  type EncryptedInput,
  type EncryptedMessageInit,
  type EncryptionOptions,
} from './encrypted.ts';
export { resolveKeyring, AES_KEY_BYTES, MIN_HMAC_BYTES, type Keyring, type KeyBytes, type SigningKey, type SignatureAlgorithm } from './keyring.ts';
export {
  sign,
  verify,
  verifier,
  SIGNATURE_HEADER,
  SIGNATURE_KEY_HEADER,
  SIGNATURE_ALG_HEADER,
  SIGNED_AT_HEADER,
  SIGNED_HEADERS_HEADER,
  type SignOptions,
  type Signer,
  type VerifyOptions,
  type Verifier,
} from './signing.ts';
export { exposure, requireToken, isLoopback, DASHBOARD_TOKEN_ENV, TOKEN_COOKIE, MIN_TOKEN_LENGTH, type Exposure, type ExposureOptions } from './http-guard.ts';
