/**
 * A binary min-heap of items by their `seq`. Small and array-backed: push and pop cost
 * O(log n) and allocate nothing but the array's growth.
 */
export class SeqHeap<T extends { readonly seq: number }> {
  readonly #items: T[] = [];

  /** The item of lowest seq, left in place. */
  peek(): T | undefined {
    return this.#items[0];
  }

  /** The items in heap order (not sorted). */
  get items(): readonly T[] {
    return this.#items;
  }

  push(item: T): void {
    const a = this.#items;
    const seq = item.seq;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = a[parent]!;
      if (above.seq <= seq) break;
      a[i] = above;
      i = parent;
    }
    a[i] = item;
  }

  /** Removes and returns the item of lowest seq; undefined when empty. */
  pop(): T | undefined {
    const a = this.#items;
    if (a.length <= 1) return a.pop();
    const top = a[0];
    const last = a.pop()!;
    const seq = last.seq;
    const n = a.length;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let below = a[child]!;
      if (child + 1 < n && a[child + 1]!.seq < below.seq) below = a[++child]!;
      if (below.seq >= seq) break;
      a[i] = below;
      i = child;
    }
    a[i] = last;
    return top;
  }

  clear(): void {
    this.#items.length = 0;
  }
}
