/**
 * Per-item accumulators indexed directly by item id (items.id is a small positive serial), reused
 * from request to request instead of a Map per request. Serving code touches a few hundred ids per
 * request; `reset` clears only those, in the order they were first touched.
 *
 * Single-threaded use only: a caller fills, reads and resets it without awaiting in between.
 */
export class DenseScratch {
  /** Ids above this are not held densely; callers fall back to a Map. */
  static readonly MAX_ID = 1 << 22;

  sum = new Float64Array(0);
  best = new Float64Array(0);
  from = new Int32Array(0);
  private marked = new Uint8Array(0);
  /** Touched ids, in first-touch order: `touched[0 .. count)`. */
  touched = new Int32Array(256);
  count = 0;

  /** Whether `id` can be held here. */
  static fits(id: number): boolean {
    return id >>> 0 === id && id < DenseScratch.MAX_ID;
  }

  /** Marks `id` touched (growing the arrays when needed); true on its first touch since the last reset. */
  touch(id: number): boolean {
    if (id >= this.marked.length) this.grow(id);
    if (this.marked[id] !== 0) return false;
    this.marked[id] = 1;
    if (this.count === this.touched.length) {
      const touched = new Int32Array(this.touched.length * 2);
      touched.set(this.touched);
      this.touched = touched;
    }
    this.touched[this.count++] = id;
    return true;
  }

  /** Zeroes the touched entries and forgets them. */
  reset(): void {
    for (let n = 0; n < this.count; n++) {
      const id = this.touched[n];
      this.marked[id] = 0;
      this.sum[id] = 0;
      this.best[id] = 0;
      this.from[id] = 0;
    }
    this.count = 0;
  }

  private grow(id: number): void {
    const size = Math.min(DenseScratch.MAX_ID, Math.max(id + 1, this.marked.length * 2, 1024));
    const grown = <T extends Float64Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(old);
      return next;
    };
    this.sum = grown(this.sum, (n) => new Float64Array(n));
    this.best = grown(this.best, (n) => new Float64Array(n));
    this.from = grown(this.from, (n) => new Int32Array(n));
    this.marked = grown(this.marked, (n) => new Uint8Array(n));
  }
}

/**
 * `array` when it holds at least `length` entries, else a new zeroed array of the same type, at
 * least twice as long (for scratch buffers reused across requests: their contents are not kept).
 */
export function atLeast<T extends Float64Array | Int32Array>(array: T, length: number): T {
  if (array.length >= length) return array;
  const Make = array.constructor as new (size: number) => T;
  return new Make(Math.max(length, 2 * array.length));
}
