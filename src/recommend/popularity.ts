/**
 * Time-decayed popularity: every event adds its type's weight, halved for every `halfLifeMs` it lies
 * before `asOf`. Recent carts and purchases count most, so the list follows what is selling now
 * (the "trending" list when taken per category).
 */
export function decayedPopularity(
  itemCount: number,
  events: { items: ArrayLike<number>; weights: ArrayLike<number>; times: ArrayLike<number> },
  halfLifeMs: number,
  asOf: number,
): Float64Array {
  const scores = new Float64Array(itemCount);
  for (let n = 0; n < events.items.length; n++) {
    const age = Math.max(0, asOf - events.times[n]);
    scores[events.items[n]] += events.weights[n] * Math.pow(2, -age / halfLifeMs);
  }
  return scores;
}

/** Indices of the k highest positive scores, best first; ties go to the lower index. */
export function topIndices(scores: ArrayLike<number>, k: number, keep: (index: number) => boolean = () => true): number[] {
  const indices: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] > 0 && keep(i)) indices.push(i);
  indices.sort((a, b) => scores[b] - scores[a] || a - b);
  return indices.slice(0, k);
}
