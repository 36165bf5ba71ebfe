/** Bytes of one block of the tail cache; a segment keeps at most two. */
export const TAIL_BLOCK_BYTES = 32 * 1024;

interface Block {
  /** File position of the block's first byte. */
  readonly start: number;
  readonly bytes: Buffer;
  used: number;
}

/**
 * A copy of the newest frames written to a segment, so that consumers reading right behind the
 * writer (the usual case) decode them from memory instead of reading the file again: one
 * `readSync` and one buffer per refill saved.
 *
 * Frames are copied into blocks of the cache's own (never the writer's buffers: those are
 * recycled, or slices of a shared pool that a kept slice would pin). The two newest blocks are
 * kept; batches larger than half a block are not copied (their readers' file reads are few and
 * large). Bytes copied into a block are never overwritten, so records decoded from it keep views
 * into it (the consumer groups of a topic then share a record's payload bytes, as they do on the
 * memory transport).
 */
export class TailCache {
  readonly #blockBytes: number;
  #previous: Block | undefined;
  #current: Block | undefined;
  /** File position after the last byte kept. */
  #end = 0;

  constructor(blockBytes = TAIL_BLOCK_BYTES) {
    this.#blockBytes = blockBytes;
  }

  /** Keeps a copy of `frames` (whole frames), written at `position`. */
  add(position: number, frames: Buffer): void {
    if (frames.length > this.#blockBytes / 2) return this.clear(position + frames.length);
    if (position !== this.#end) this.clear(position);
    let block = this.#current;
    if (!block || block.used + frames.length > block.bytes.length) {
      block = { start: position, bytes: Buffer.allocUnsafeSlow(this.#blockBytes), used: 0 };
      this.#previous = this.#current;
      this.#current = block;
    }
    block.bytes.set(frames, block.used);
    block.used += frames.length;
    this.#end = position + frames.length;
  }

  /** Forgets everything; the next frames kept are expected at `position`. */
  clear(position = this.#end): void {
    this.#previous = undefined;
    this.#current = undefined;
    this.#end = position;
  }

  /** Whether the frame starting at `position` is kept here. */
  has(position: number): boolean {
    const first = this.#previous ?? this.#current;
    return first !== undefined && position >= first.start && position < this.#end;
  }

  /**
   * Calls `visit(bytes, from, to)` for the kept frames from `position` (where `has(position)`):
   * the older block's part first, if `position` is in it, then the newer block's, until `visit`
   * returns false. `bytes[from, to)` holds whole frames.
   */
  visit(position: number, visit: (bytes: Buffer, from: number, to: number) => boolean): void {
    const previous = this.#previous;
    const current = this.#current!;
    if (previous && position < current.start) {
      if (!visit(previous.bytes, position - previous.start, previous.used)) return;
      position = current.start;
    }
    visit(current.bytes, position - current.start, current.used);
  }
}
