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
  /** Damping: a pair sharing n baskets keeps n / (n + shrink) of its cosine; 0 for the plain cosine. Cosine only. */
  shrink: number;
  /**
   * `cosine` (default): the damped cosine above, symmetric. `rp3beta`: the probability of a
   * two-step walk item i → basket → item j (each step in proportion to the event weights), divided
   * by j's basket count to the power `popularityPenalty` (Paudel et al., "Updatable, accurate,
   * diverse, and scalable recommendations for interactive applications", ACM TiiS 7(1), 2017):
   * asymmetric, and with the penalty it lets less popular neighbours through, where a cosine
   * over few baskets favours the items everyone touches. Each item's list is scaled so its best
   * neighbour scores 1, the scale of the cosine, which fold-in adds to a history item's own 1.
   */
  similarity?: 'cosine' | 'rp3beta';
  /** RP3beta's β: 0 is the plain two-step walk (P3), 1 divides by the whole basket count. */
  popularityPenalty?: number;
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
  const walk = options.similarity === 'rp3beta';
  // RP3beta: Σ weights of each basket (the basket → item step) and each item's penalty
  // (basket count ^ β); an item's own Σ weights (the item → basket step) is a common factor of its
  // row, which the scaling to a best neighbour of 1 removes.
  const basketMass = walk
    ? Float64Array.from(baskets, (basket) => {
        let mass = 0;
        for (let n = 0; n < basket.weights.length; n++) mass += basket.weights[n];
        return mass;
      })
    : null;
  const penalty = walk ? Float64Array.from({ length: itemCount }, (_, j) => Math.pow(Math.max(1, counts[j + 1] - counts[j]), options.popularityPenalty ?? 0.5)) : null;

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
        dot[j] += basketMass ? (weight * basket.weights[n]) / basketMass[postingBasket[p]] : weight * basket.weights[n];
      }
    }
    const candidates = touched.map((j) => {
      if (penalty) return { j, score: dot[j] / penalty[j] };
      const cosine = dot[j] / (norms[i] * norms[j]);
      return { j, score: cosine * (shared[j] / (shared[j] + options.shrink)) };
    });
    candidates.sort((a, b) => b.score - a.score || a.j - b.j);
    const kept = candidates.slice(0, options.neighbours);
    const top = penalty && kept.length > 0 && kept[0].score > 0 ? kept[0].score : 1;
    result.push({ ids: Int32Array.from(kept, (c) => c.j), scores: Float32Array.from(kept, (c) => c.score / top) });
    for (const j of touched) {
      dot[j] = 0;
      shared[j] = 0;
    }
    touched.length = 0;
  }
  return result;
}
