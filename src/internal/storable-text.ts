/**
 * Why `text` (an id, a type, metadata, a string inside JSON) cannot be stored by every backend,
 * or undefined when it can. PostgreSQL refuses U+0000 in text and jsonb, a lone UTF-16
 * surrogate does not survive UTF-8, and an index entry above ~2.7 kB is refused — each with an
 * error that names neither the record nor the field, while the memory stores accepted them all.
 * Checked up front, every backend refuses the same input and says why.
 */
export function unstorableText(text: string, maxBytes?: number): string | undefined {
  const shown = JSON.stringify(text.slice(0, 40));
  if (text.includes('\u0000')) return `${shown} holds U+0000, which PostgreSQL cannot store`;
  if (!text.isWellFormed()) return `${shown} holds a lone UTF-16 surrogate, which does not survive UTF-8 storage`;
  if (maxBytes !== undefined && Buffer.byteLength(text) > maxBytes) return `${shown}… is ${Buffer.byteLength(text)} bytes long; the limit is ${maxBytes} (UTF-8)`;
  return undefined;
}

/** Longest id kept as a key (stream id, saga id), in UTF-8 bytes: well inside PostgreSQL's ~2.7 kB for an index entry. */
export const MAX_KEY_BYTES = 1_024;
