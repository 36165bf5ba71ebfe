/**
 * An unambiguous byte encoding of a list of fields, for what a MAC, a signature or AEAD
 * additional data covers. Each field is its byte length (u32, big-endian) followed by its bytes,
 * so no choice of values can make two different field lists encode alike ("ab"+"c" vs "a"+"bc").
 *
 * @example
 * ```ts
 * const input = canonical(['switchyard-signature-v1', keyId, msg.payload]);
 * ```
 */
export function canonical(fields: ReadonlyArray<string | Uint8Array>): Buffer {
  const parts: Buffer[] = [];
  for (const field of fields) {
    const bytes = typeof field === 'string' ? Buffer.from(field, 'utf8') : Buffer.from(field.buffer, field.byteOffset, field.byteLength);
    const length = Buffer.allocUnsafe(4);
    length.writeUInt32BE(bytes.length, 0);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/**
 * The header fields a MAC or AEAD binds: the sorted names as one comma-joined field (so a bound
 * list cannot be shortened), then each name and value. A header listed but absent is an error
 * the caller reports; here it is encoded as absent so it can never match a present empty value.
 */
export function headerFields(names: readonly string[], headers: Readonly<Record<string, string>>): string[] {
  const fields = [names.join(',')];
  for (const name of names) {
    const value = Object.hasOwn(headers, name) ? headers[name] : undefined;
    fields.push(name, value === undefined ? '\u0000absent' : `=${value}`);
  }
  return fields;
}

/** Parses a comma-separated header list as written by `headerFields` (empty → none). */
export function parseHeaderList(value: string | undefined): string[] {
  return value === undefined || value === '' ? [] : value.split(',');
}

/** The header names to bind: given ones, de-duplicated and sorted so both sides agree. */
export function normalizeHeaderList(names: Iterable<string>): string[] {
  return [...new Set(names)].sort();
}

/** A value from a message for an error text: quoted, and cut short (it came from outside). */
export function quoted(value: string, max = 64): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}
