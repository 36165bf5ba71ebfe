import { ConfigError } from '../core/errors.ts';
import type { NormalizedMessage } from '../core/message.ts';

/** Default `maxHeaderBytes` on every transport: headers are metadata, 64 KiB is plenty. */
export const DEFAULT_MAX_HEADER_BYTES = 65_536;

/** Size of a message's application headers: UTF-8 bytes of every name and value. */
export function headerBytes(headers: Record<string, string>): number {
  let n = 0;
  for (const name in headers) if (Object.hasOwn(headers, name)) n += Buffer.byteLength(name) + Buffer.byteLength(headers[name]!);
  return n;
}

/** The limits `publish()` checks, and how to raise them (named in the error). */
export interface MessageLimits {
  transport: string;
  maxPayloadBytes: number;
  maxHeaderBytes: number;
  /** Added to the payload error, e.g. "and the broker's max_message_size". */
  payloadHint?: string;
}

/**
 * Throws one ConfigError naming every message of the batch that is too large (which message,
 * how big, which limit, which option raises it) — before anything of the batch is sent, so a
 * batch is never half published because of its size.
 */
export function checkMessageLimits(topic: string, batch: readonly NormalizedMessage[], limits: MessageLimits): void {
  const problems: string[] = [];
  const which = (i: number): string => `${limits.transport}: publish to "${topic}"${batch.length > 1 ? `, message ${i}` : ''} (id ${batch[i]!.id})`;
  // A plain loop, and strings only for messages that are too large: this runs on every publish.
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i]!;
    if (m.payload.byteLength > limits.maxPayloadBytes) {
      problems.push(
        `${which(i)}: payload of ${m.payload.byteLength} bytes exceeds the limit of ${limits.maxPayloadBytes} bytes; ` +
          `raise the transport's maxPayloadBytes option${limits.payloadHint ? ` ${limits.payloadHint}` : ''}, or store large payloads elsewhere and send a reference`,
      );
    }
    const h = headerBytes(m.headers);
    if (h > limits.maxHeaderBytes) {
      problems.push(`${which(i)}: headers of ${h} bytes exceed the limit of ${limits.maxHeaderBytes} bytes; raise the transport's maxHeaderBytes option or send less metadata`);
    }
  }
  ConfigError.throwIfAny(problems);
}
