/**
 * Time-decayed popularity, kept as base-2 logarithms: every event adds its type's weight, halved
 * for every `halfLifeMs` it lies before `asOf` (`halfLifeMs` null: no decay, a plain weighted
 * count), and an item's entry is log₂ of its sum (−Infinity for an item without events).
 *
 * Why logarithms: 2^(−age / half-life) of an event a year old at a 72 h half-life is about 2⁻¹²²,
 * and beyond about 1074 half-lives it is 0 even in float64, which dropped whole stale items and,
 * stored in a `real` column, failed training runs. Each item's sum is accumulated relative to its
 * own newest event (a running log-sum-exp), so nothing underflows however long the range is, and
 * the order of the items is exactly the order of their decayed counts.
 */
export function logDecayedPopularity(
  itemCount: number,
  events: { items: ArrayLike<number>; weights: ArrayLike<number>; times: ArrayLike<number> },
  halfLifeMs: number | null,
  asOf: number,
): Float64Array {
  // Per item: the largest exponent −age/half-life seen so far, and Σ weight · 2^(exponent − largest).
  const largest = new Float64Array(itemCount).fill(-Infinity);
  const sums = new Float64Array(itemCount);
  for (let n = 0; n < events.items.length; n++) {
    const weight = events.weights[n];
    if (!(weight > 0)) continue;
    const item = events.items[n];
    const exponent = halfLifeMs === null ? 0 : -Math.max(0, asOf - events.times[n]) / halfLifeMs;
    if (exponent <= largest[item]) sums[item] += weight * Math.pow(2, exponent - largest[item]);
    else {
      sums[item] = sums[item] * Math.pow(2, largest[item] - exponent) + weight;
      largest[item] = exponent;
    }
  }
  const logs = new Float64Array(itemCount);
  for (let item = 0; item < itemCount; item++) logs[item] = sums[item] > 0 ? largest[item] + Math.log2(sums[item]) : -Infinity;
  return logs;
}

/** Indices of the k highest scores above −Infinity, best first; ties go to the lower index. */
export function topIndices(scores: ArrayLike<number>, k: number, keep: (index: number) => boolean = () => true): number[] {
  const indices: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] > -Infinity && keep(i)) indices.push(i);
  indices.sort((a, b) => scores[b] - scores[a] || a - b);
  return indices.slice(0, k);
}

/**
 * The scores a stored list carries: each item's decayed count relative to the list's first (best)
 * item, 2^(logᵢ − log_first), so the list starts at 1 and falls to (0, 1]. Serving ranks by list
 * position and rescales a list's scores to follow the stage before it, so only these ratios mean
 * anything; an item more than 126 half-lives staler than the list's top is stored as 0 (below
 * float4's range, src/db/float4.ts) and keeps its place.
 */
export function relativeScores(logScores: ArrayLike<number>, ranked: readonly number[]): number[] {
  if (ranked.length === 0) return [];
  const top = logScores[ranked[0]];
  return ranked.map((index) => Math.pow(2, logScores[index] - top));
}
