import { defineCodec, type Codec } from '../core/codec.ts';
import { DecodeError } from '../core/errors.ts';

/** Bytes as they are. */
export function raw(contentType = 'application/octet-stream'): Codec<Uint8Array> {
  return defineCodec({ contentType, toBytes: (value) => value, fromBytes: (bytes) => bytes });
}

// ignoreBOM: a leading U+FEFF is part of the text, so what was encoded comes back exactly.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** UTF-8 text; invalid UTF-8 is a DecodeError. */
export function text(): Codec<string> {
  return defineCodec({
    contentType: 'text/plain; charset=utf-8',
    toBytes: (value) => encoder.encode(value),
    fromBytes: (bytes, at) => {
      try {
        return decoder.decode(bytes);
      } catch (error) {
        throw new DecodeError(at, 'payload is not valid UTF-8', { cause: error });
      }
    },
  });
}
