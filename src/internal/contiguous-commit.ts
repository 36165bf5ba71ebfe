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

  /** Moves the position forward without acknowledgements (retention dropped older data). */
  skipTo(offset: number): void {
    while (this.#committed < offset) {
      this.#done.delete(this.#committed);
      this.#committed++;
    }
  }
}
