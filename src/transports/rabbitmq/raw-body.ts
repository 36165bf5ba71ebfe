import type { AsyncMessage, Channel } from 'rabbitmq-client';
import { TransportError } from '../../core/errors.ts';

/**
 * Keeps message bodies as the bytes the broker delivered.
 *
 * rabbitmq-client (5.0.0 to 5.0.8, `Channel._onBody`) turns a body whose `content-type` is
 * exactly `text/plain` into a string and one that is `application/json` into a parsed value, and
 * offers no option to turn that off. Turned back into bytes, such bodies differ from what another
 * client published: big JSON numbers lose precision, whitespace is normalised, invalid UTF-8
 * becomes U+FFFD. And a failed message is republished altered.
 *
 * The client decides from the content properties of the header frame, which it hands to the
 * channel's `_onHeader(headerFrame)` before the body arrives and spreads into the delivery after.
 * So a consumer channel gets a wrapped `_onHeader` that moves `contentType` aside (to a symbol
 * key, which the spread copies too) while the client assembles the body, and `restoreContentType`
 * puts it back on the delivery before anyone reads it. Only the consumer's own channel is wrapped:
 * `transport.native` users see the client as it is.
 *
 * It relies on two internals, so both are checked: `keepRawBodies` throws if the channel has no
 * `_onHeader`, and `isRawBody` lets the consumer report a delivery whose body was decoded anyway
 * (see subscription.ts). `raw-body.int.test.ts` publishes such bodies through the real broker.
 */

/** Where the wrapped `_onHeader` keeps the content type while the client assembles the body. */
const CONTENT_TYPE = Symbol('switchyard.rabbitmq.contentType');

interface HeaderFrame {
  fields?: { contentType?: unknown; [CONTENT_TYPE]?: unknown };
}

interface ChannelInternals {
  _onHeader?: unknown;
}

/**
 * Makes `ch` hand over every delivery's body as a Buffer, byte for byte. Throws a non-retryable
 * TransportError if the installed rabbitmq-client no longer has the hook this relies on.
 */
export function keepRawBodies(ch: Channel): void {
  const internals = ch as unknown as ChannelInternals;
  const onHeader = internals._onHeader;
  if (typeof onHeader !== 'function') {
    throw new TransportError(
      'rabbitmq: this version of rabbitmq-client has no Channel._onHeader, which Switchyard uses to receive message bodies byte for byte ' +
        '(the client decodes text/plain and application/json bodies); install rabbitmq-client 5.0.x as package-lock.json pins it, or update src/transports/rabbitmq/raw-body.ts',
      { retryable: false },
    );
  }
  internals._onHeader = function (this: Channel, frame: HeaderFrame): unknown {
    const fields = frame.fields;
    // Switchyard's own messages have no content type: for them this is one comparison.
    if (fields !== undefined && fields.contentType !== undefined) {
      fields[CONTENT_TYPE] = fields.contentType;
      fields.contentType = undefined;
    }
    return (onHeader as (this: Channel, frame: HeaderFrame) => unknown).call(this, frame);
  };
}

/** Puts back the content type `keepRawBodies` moved aside, so the delivery shows the sender's. */
export function restoreContentType(delivery: AsyncMessage): void {
  const saved = (delivery as AsyncMessage & { [CONTENT_TYPE]?: unknown })[CONTENT_TYPE];
  if (typeof saved === 'string') delivery.contentType = saved;
}

/** False when the client decoded the body despite `keepRawBodies` (its internals changed). */
export function isRawBody(delivery: AsyncMessage): boolean {
  return Buffer.isBuffer(delivery.body);
}
