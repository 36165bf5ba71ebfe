/**
 * Tracks acknowledgements that arrive out of order and tells how far the committed position may
 * advance: past every offset below it, all acknowledged. This is what lets a consumer run
 * handlers in parallel and still commit nothing that has not succeeded.
 */
export class ContiguousCommit {
  /** Every offset below this one is acknowledged. */
  #committed: number;
  readonly #done = new Set<number>();

  constructor(committed: number) {
    this.#committed = committed;
  }

  get committed(): number {
    return this.#committed;
  }

  /** Marks `offset` acknowledged; returns true when the committed position moved. */
  ack(offset: number): boolean {
    if (offset < this.#committed) return false;
    if (offset !== this.#committed) {
      this.#done.add(offset);
      return false;
    }
    this.#committed++;
    while (this.#done.delete(this.#committed)) this.#committed++;
    return true;
  }

  /**
   * Moves the position forward without acknowledgements (retention or compaction dropped older
   * data). In one step, whatever the distance: a gap can span millions of offsets, and walking it
   * one at a time blocked the event loop for a quarter of a second per 20 million.
   */
  skipTo(offset: number): void {
    if (offset <= this.#committed) return;
    // Acknowledgements below the new position are no longer needed; few are held (at most the
    // messages in flight), so this is cheaper than the distance.
    for (const done of this.#done) if (done < offset) this.#done.delete(done);
    this.#committed = offset;
  }
}
