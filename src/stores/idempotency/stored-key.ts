import { createHash } from 'node:crypto';

/** Longest key (in UTF-8 bytes) kept as it is; PostgreSQL's btree refuses index rows over ~2.7 kB. */
const MAX_PLAIN_KEY_BYTES = 2000;

/**
 * A key as a store can hold it: `sha256:` and the hex digest of its UTF-16 code units. Code units,
 * not UTF-8, so keys that differ only in lone surrogates (which UTF-8 turns into the same U+FFFD)
 * stay distinct.
 */
function digest(key: string): string {
  return `sha256:${createHash('sha256').update(key, 'utf16le').digest('hex')}`;
}

/**
 * The key a PostgreSQL store writes for `key`: the key itself, or its digest when PostgreSQL
 * cannot hold it as text (the NUL character; a lone surrogate, which would become U+FFFD and so
 * equal other keys) or index it (longer than ~2.7 kB). Keys that could be stored before are
 * unchanged, so existing marks still count.
 */
export function postgresKey(key: string): string {
  // Three UTF-8 bytes at most per UTF-16 unit: short keys skip the byte count.
  const long = key.length * 3 > MAX_PLAIN_KEY_BYTES && Buffer.byteLength(key) > MAX_PLAIN_KEY_BYTES;
  return long || key.includes('\u0000') || !key.isWellFormed() ? digest(key) : key;
}

/**
 * The key a Redis store writes for `key`: the key itself, or its digest when it holds a lone
 * surrogate (ioredis sends UTF-8, where it becomes U+FFFD: two different message ids would be one
 * key, and the second skipped as a duplicate).
 */
export function redisKey(key: string): string {
  return key.isWellFormed() ? key : digest(key);
}
