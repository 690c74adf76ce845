/**
 * Item-to-item similarity from co-occurrence. A basket is one user's history or one session: the
 * items in it with the weight of their strongest event (a purchase says more than a view). Each item
 * is a vector over baskets; two items are as similar as the cosine of their vectors, damped by how
 * few baskets they share (n / (n + shrink)), so a pair seen together once does not outrank a pair
 * seen together fifty times.
 */

export interface Basket {
  /** Item indices 0…itemCount−1, each at most once. */
  items: ArrayLike<number>;
  weights: ArrayLike<number>;
}

export interface NeighbourList {
  ids: Int32Array;
  scores: Float32Array;
}

export interface SimilarityOptions {
  /** Neighbours kept per item, best first. */
  neighbours: number;
  /** Damping: a pair sharing n baskets keeps n / (n + shrink) of its cosine; 0 for the plain cosine. */
  shrink: number;
}

/** The top neighbours of every item (an empty list for an item that shares no basket). */
export function itemNeighbours(itemCount: number, baskets: readonly Basket[], options: SimilarityOptions): NeighbourList[] {
  // Inverted index: for each item, the baskets holding it and its weight there.
  const counts = new Int32Array(itemCount + 1);
  for (const basket of baskets) for (let n = 0; n < basket.items.length; n++) counts[basket.items[n] + 1]++;
  for (let i = 0; i < itemCount; i++) counts[i + 1] += counts[i];
  const postingBasket = new Int32Array(counts[itemCount]);
  const postingWeight = new Float32Array(counts[itemCount]);
  const fill = counts.slice(0, itemCount);
  const norms = new Float64Array(itemCount);
  baskets.forEach((basket, b) => {
    for (let n = 0; n < basket.items.length; n++) {
      const item = basket.items[n];
      const weight = basket.weights[n];
      postingBasket[fill[item]] = b;
      postingWeight[fill[item]++] = weight;
      norms[item] += weight * weight;
    }
  });
  for (let i = 0; i < itemCount; i++) norms[i] = Math.sqrt(norms[i]);

  const dot = new Float64Array(itemCount);
  const shared = new Int32Array(itemCount);
  const touched: number[] = [];
  const result: NeighbourList[] = [];
  for (let i = 0; i < itemCount; i++) {
    for (let p = counts[i]; p < counts[i + 1]; p++) {
      const basket = baskets[postingBasket[p]];
      const weight = postingWeight[p];
      for (let n = 0; n < basket.items.length; n++) {
        const j = basket.items[n];
        if (j === i) continue;
        if (shared[j] === 0) touched.push(j);
        shared[j]++;
        dot[j] += weight * basket.weights[n];
      }
    }
    const candidates = touched.map((j) => {
      const cosine = dot[j] / (norms[i] * norms[j]);
      return { j, score: cosine * (shared[j] / (shared[j] + options.shrink)) };
    });
    candidates.sort((a, b) => b.score - a.score || a.j - b.j);
    const kept = candidates.slice(0, options.neighbours);
    result.push({ ids: Int32Array.from(kept, (c) => c.j), scores: Float32Array.from(kept, (c) => c.score) });
    for (const j of touched) {
      dot[j] = 0;
      shared[j] = 0;
    }
    touched.length = 0;
  }
  return result;
}
