import { closeSync, fsyncSync, openSync } from 'node:fs';

/**
 * Makes a directory's entries durable (a file created or renamed in it), as fsync of the file
 * alone does not. Used when segments are created and metadata files replaced, unless fsync is 'never'.
 */
export function syncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
