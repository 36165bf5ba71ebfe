import { DecodeError, PermanentError, type MessageLocation } from '../core/errors.ts';

/**
 * An encrypted payload could not be decrypted: no or unknown key id, a damaged frame, or the
 * authentication tag did not match (wrong key, altered payload or bound header). Permanent:
 * `deadLetter()` sends the message to the dead-letter topic with the reason, unprocessed.
 */
export class DecryptionError extends DecodeError {
  readonly reason: string;

  constructor(at: MessageLocation, reason: string, options: { cause?: unknown } = {}) {
    super(at, `decryption failed: ${reason}`, options);
    this.name = 'DecryptionError';
    this.reason = reason;
  }
}

/**
 * A message's signature is missing or does not verify. Permanent: `deadLetter()` sends the
 * message to the dead-letter topic with the reason and the handler never sees it.
 */
export class VerificationError extends PermanentError {
  readonly topic: string;
  readonly messageId: string;
  readonly reason: string;

  constructor(at: MessageLocation, reason: string) {
    super(`message ${at.messageId} on "${at.topic}" failed signature verification: ${reason}`);
    this.name = 'VerificationError';
    this.topic = at.topic;
    this.messageId = at.messageId;
    this.reason = reason;
  }
}
