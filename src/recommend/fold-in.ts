/**
 * Recommendations for a user from their recent events alone, without retraining: the "fold-in"
 * that lets a visitor's third click change what they see.
 */
import { Ranked, selectTop } from './candidates';
import { atLeast, DenseScratch } from './dense-scratch';

/** One item in a user's recent history: its strongest event weight; the array is most recent first. */
export interface HistoryItem {
  item: number;
  weight: number;
}

/**
 * Item-neighbour fold-in: score(j) = Σᵢ weightᵢ · decay^positionᵢ · sim(i, j) over the user's recent
 * distinct items i (position 0 = most recent), so the latest clicks steer the list most. With
 * `selfWeight` > 0 an item of the history counts as its own neighbour with that similarity: people
 * come back to what they looked at, and a list may remind them of it.
 */
export function scoreFromNeighbours(
  history: readonly HistoryItem[],
  neighboursOf: (item: number) => { ids: ArrayLike<number>; scores: ArrayLike<number> } | undefined,
  decay: number,
  selfWeight = 0,
): Map<number, number> {
  const scores = new Map<number, number>();
  history.forEach((entry, position) => {
    const factor = entry.weight * Math.pow(decay, position);
    if (selfWeight > 0) scores.set(entry.item, (scores.get(entry.item) ?? 0) + factor * selfWeight);
    const list = neighboursOf(entry.item);
    if (!list) return;
    for (let n = 0; n < list.ids.length; n++) scores.set(list.ids[n], (scores.get(list.ids[n]) ?? 0) + factor * list.scores[n]);
  });
  return scores;
}

const neighbourScratch = new DenseScratch();
/** The touched items' scores in first-touch order, reused (filled and ranked without awaiting). */
let values = new Float64Array(1024);

/**
 * `scoreFromNeighbours` over the first `historyLength` history items, ranked: the `depth` best
 * (item, score) pairs, best first, ties to the item touched first (exactly as ranking the Map that
 * `scoreFromNeighbours` returns, in its insertion order). It accumulates in a reusable array indexed
 * by item id instead of a Map (serving runs it on every request); an id too large for that falls
 * back to the Map.
 */
export function rankFromNeighbours(
  history: readonly HistoryItem[],
  historyLength: number,
  neighboursOf: (item: number) => { ids: ArrayLike<number>; scores: ArrayLike<number> } | undefined,
  decay: number,
  selfWeight: number,
  depth: number,
): Ranked {
  const scratch = neighbourScratch;
  const length = Math.min(history.length, historyLength);
  let dense = true;
  outer: for (let position = 0; position < length; position++) {
    const entry = history[position];
    const factor = entry.weight * Math.pow(decay, position);
    if (selfWeight > 0) {
      if (!DenseScratch.fits(entry.item)) {
        dense = false;
        break;
      }
      scratch.touch(entry.item);
      scratch.sum[entry.item] += factor * selfWeight;
    }
    const list = neighboursOf(entry.item);
    if (!list) continue;
    const { ids, scores } = list;
    for (let n = 0; n < ids.length; n++) {
      const id = ids[n];
      if (!DenseScratch.fits(id)) {
        dense = false;
        break outer;
      }
      scratch.touch(id);
      scratch.sum[id] += factor * scores[n];
    }
  }
  if (!dense) {
    scratch.reset();
    const map = scoreFromNeighbours(history.slice(0, historyLength), neighboursOf, decay, selfWeight);
    const ids = Array.from(map.keys());
    const top = selectTop(Array.from(map.values()), depth);
    for (let n = 0; n < top.length; n++) top.items[n] = ids[top.items[n]];
    return top;
  }
  const count = scratch.count;
  values = atLeast(values, count);
  for (let n = 0; n < count; n++) values[n] = scratch.sum[scratch.touched[n]];
  const top = selectTop(values, depth, 0, count);
  for (let n = 0; n < top.length; n++) top.items[n] = scratch.touched[top.items[n]];
  scratch.reset();
  return top;
}

/**
 * Factor-space fold-in: the user vector u minimising Σᵢ cᵢ (u·vᵢ − 1)² + λ‖u‖² over the user's items
 * (confidence cᵢ = weight · decay^position), i.e. (Vᵀ C V + λI) u = Vᵀ C 1, solved by Gaussian
 * elimination (d is small). Scores u·vⱼ + bⱼ then rank the catalogue as for a trained user.
 */
export function projectIntoFactors(
  history: readonly HistoryItem[],
  factorRow: (item: number) => number | undefined,
  itemFactors: ArrayLike<number>,
  dimensions: number,
  regularization: number,
  decay: number,
): Float64Array | null {
  const d = dimensions;
  const a = new Float64Array(d * d);
  const rhs = new Float64Array(d);
  let used = 0;
  history.forEach((entry, position) => {
    const row = factorRow(entry.item);
    if (row === undefined) return;
    used++;
    const c = entry.weight * Math.pow(decay, position);
    for (let x = 0; x < d; x++) {
      const vx = itemFactors[row * d + x];
      rhs[x] += c * vx;
      for (let y = 0; y < d; y++) a[x * d + y] += c * vx * itemFactors[row * d + y];
    }
  });
  if (used === 0) return null;
  for (let x = 0; x < d; x++) a[x * d + x] += regularization;
  return solveSymmetric(a, rhs, d);
}

/** Solves A x = b for a symmetric positive definite A (row-major d×d) with partial pivoting. */
export function solveSymmetric(matrix: Float64Array, rhs: Float64Array, d: number): Float64Array {
  const a = Float64Array.from(matrix);
  const b = Float64Array.from(rhs);
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let row = col + 1; row < d; row++) if (Math.abs(a[row * d + col]) > Math.abs(a[pivot * d + col])) pivot = row;
    if (pivot !== col) {
      for (let k = 0; k < d; k++) [a[col * d + k], a[pivot * d + k]] = [a[pivot * d + k], a[col * d + k]];
      [b[col], b[pivot]] = [b[pivot], b[col]];
    }
    const diagonal = a[col * d + col];
    for (let row = col + 1; row < d; row++) {
      const factor = a[row * d + col] / diagonal;
      if (factor === 0) continue;
      for (let k = col; k < d; k++) a[row * d + k] -= factor * a[col * d + k];
      b[row] -= factor * b[col];
    }
  }
  const x = new Float64Array(d);
  for (let row = d - 1; row >= 0; row--) {
    let sum = b[row];
    for (let k = row + 1; k < d; k++) sum -= a[row * d + k] * x[k];
    x[row] = sum / a[row * d + row];
  }
  return x;
}

/**
 * A user's recent history as fold-in reads it: distinct items, most recently touched first, each
 * with its strongest event weight, at most `limit` of them. Input is most recent first.
 */
export function historyFromEvents(items: ArrayLike<number>, weights: ArrayLike<number>, limit: number): HistoryItem[] {
  const byItem = new Map<number, HistoryItem>();
  const history: HistoryItem[] = [];
  for (let n = 0; n < items.length; n++) {
    if (weights[n] <= 0) continue;
    const seen = byItem.get(items[n]);
    if (seen) seen.weight = Math.max(seen.weight, weights[n]);
    else if (history.length < limit) {
      const entry = { item: items[n], weight: weights[n] };
      byItem.set(items[n], entry);
      history.push(entry);
    }
  }
  return history;
}
