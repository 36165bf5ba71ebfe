/**
 * A decoded value made ready for JSON output: every Uint8Array in it (protobufjs decodes `bytes`
 * fields into them) becomes its base64 text, as Protobuf's JSON mapping writes bytes.
 * `JSON.stringify` would write `{"0":1,"1":2}` instead: a route converting Protobuf to JSON would
 * forward bytes fields as objects that no consumer, nor a route back to Protobuf, reads as bytes.
 * Protobuf `fromObject` reads base64 back, so JSON → Protobuf routes round-trip. Values without
 * bytes are returned as they are; plain objects and arrays holding bytes are copied, never changed.
 *
 * @example
 * ```ts
 * JSON.stringify(bytesAsBase64({ id: 'x', blob: new Uint8Array([1, 2, 255]) })); // '{"id":"x","blob":"AQL/"}'
 * ```
 */
export function bytesAsBase64(value: unknown): unknown {
  return convert(value, new Set());
}

function convert(value: unknown, ancestors: Set<object>): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (value === null || typeof value !== 'object' || ancestors.has(value)) return value; // a cycle: JSON.stringify says so
  const isArray = Array.isArray(value);
  // Other objects (a Date, a class with toJSON) are JSON.stringify's to write.
  if (!isArray && Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  ancestors.add(value);
  try {
    let copy: unknown[] | Record<string, unknown> | undefined;
    const entries = isArray ? value.entries() : Object.entries(value);
    for (const [k, item] of entries) {
      const converted = convert(item, ancestors);
      if (converted === item && copy === undefined) continue;
      copy ??= isArray ? [...value] : { ...(value as Record<string, unknown>) };
      (copy as Record<string | number, unknown>)[k] = converted;
    }
    return copy ?? value;
  } finally {
    ancestors.delete(value);
  }
}
