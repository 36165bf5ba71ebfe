import type { NormalizedMessage } from '../../core/message.ts';
import { encodeHeaders, toWireHeaders } from './mapping.ts';

/**
 * Bytes `m` takes against the server's `max_payload` when sent on `subject`: the payload plus the
 * header block, as the NATS client counts them before it refuses a message.
 */
export function wireSize(subject: string, m: NormalizedMessage): number {
  return m.payload.length + encodeHeaders(toWireHeaders(subject, m)).size;
}

/**
 * The problem of a message (`what`: "publish to …", "request to …") of `size` bytes beyond the
 * server's `max_payload`, saying what to do. One wording for every way a message leaves the
 * transport, so a request reads as a publish does rather than as the client's bare
 * "'payload' max_payload size exceeded".
 */
export function exceedsMaxPayload(what: string, size: number, limit: number): string {
  return (
    `${what}: ${size} bytes with headers exceed the server's max_payload of ${limit} bytes ` +
    '(raise max_payload in the server config, or store large payloads elsewhere and send a reference)'
  );
}
