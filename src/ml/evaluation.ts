import { catalogueCoverage, hitAtK, ndcgAtK, precisionAtK, recallAtK, reciprocalRank } from './metrics';
import { Rng } from './random';

/**
 * The evaluation harness every model shares. Ranking models hold out each user's latest events
 * (src/recommend/user-split.ts), are scored per user with the metrics module, and are compared with
 * simple baselines on the very same users by a paired bootstrap (`pairedBootstrap`), so a
 * difference comes with a confidence interval. Prediction models train before a split instant T
 * (`eventQuantileSplit`) and are asked about what happened after it.
 */

/**
 * T that holds out the latest `holdoutFraction` of the events: the time (ms) of the event at rank
 * ⌊(1 − holdoutFraction)·n⌋ in time order (0-based, at least 1), so events at or after T are held
 * out. A share of the events rather than of the time span: one stray event months before the rest
 * (a test event, a late import of old data) does not move the split into the quiet months before
 * the real traffic, where "before the split" would hold almost nothing. `times` in ms, any order;
 * throws RangeError when there are fewer than two.
 */
export function eventQuantileSplit(times: ArrayLike<number>, holdoutFraction: number): number {
  if (times.length < 2) throw new RangeError('the training range holds fewer than two events');
  const sorted = Float64Array.from(times).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(1, Math.floor((1 - holdoutFraction) * sorted.length)))];
}

/** One user to evaluate: what they interacted with after T, and what must not be recommended to them. */
export interface HeldOutUser {
  user: number;
  relevant: ReadonlySet<number>;
  excluded: ReadonlySet<number>;
}

export interface RankingMetrics {
  k: number;
  users: number;
  recall: number;
  precision: number;
  ndcg: number;
  mrr: number;
  hitRate: number;
  coverage: number;
}

/** The per-user values behind RankingMetrics' means, in the order of the users evaluated: what paired comparisons resample. */
export interface PerUserRanking {
  recall: Float64Array;
  ndcg: Float64Array;
  mrr: Float64Array;
}

/**
 * Averages the ranking metrics at k over users; `recommend` returns a user's list, best first.
 * `perUser` (non-enumerable, so it stays out of stored JSON) keeps each user's recall, NDCG and
 * reciprocal rank for `pairedBootstrap`.
 */
export function evaluateRanking(
  users: readonly HeldOutUser[],
  recommend: (user: number, excluded: ReadonlySet<number>) => readonly number[],
  k: number,
  catalogueSize: number,
): RankingMetrics & { readonly perUser: PerUserRanking } {
  const lists: (readonly number[])[] = [];
  const perUser: PerUserRanking = { recall: new Float64Array(users.length), ndcg: new Float64Array(users.length), mrr: new Float64Array(users.length) };
  const sums = { recall: 0, precision: 0, ndcg: 0, mrr: 0, hitRate: 0 };
  users.forEach((heldOut, n) => {
    const list = recommend(heldOut.user, heldOut.excluded).slice(0, k);
    lists.push(list);
    perUser.recall[n] = recallAtK(list, heldOut.relevant, k);
    perUser.ndcg[n] = ndcgAtK(list, heldOut.relevant, k);
    perUser.mrr[n] = reciprocalRank(list, heldOut.relevant);
    sums.recall += perUser.recall[n];
    sums.precision += precisionAtK(list, heldOut.relevant, k);
    sums.ndcg += perUser.ndcg[n];
    sums.mrr += perUser.mrr[n];
    sums.hitRate += hitAtK(list, heldOut.relevant, k);
  });
  const n = users.length || 1;
  const metrics = {
    k,
    users: users.length,
    recall: sums.recall / n,
    precision: sums.precision / n,
    ndcg: sums.ndcg / n,
    mrr: sums.mrr / n,
    hitRate: sums.hitRate / n,
    coverage: catalogueCoverage(lists, catalogueSize, k),
  };
  return Object.defineProperty(metrics, 'perUser', { value: perUser, enumerable: false }) as RankingMetrics & { readonly perUser: PerUserRanking };
}

/** A difference of means with its bootstrap confidence interval. */
export interface PairedDifference {
  /** mean(a) − mean(b) over the users. */
  difference: number;
  /** The interval's bounds (the `level` percentile interval of the resampled differences). */
  low: number;
  high: number;
  level: number;
  resamples: number;
}

/**
 * Paired bootstrap of mean(a − b) over the same users (a[n] and b[n] are user n's values under two
 * recommenders): users are drawn with replacement `resamples` times and the interval is the
 * percentile interval of the resampled mean differences (Efron and Tibshirani, "An Introduction to
 * the Bootstrap", 1993, ch. 13). Pairing matters: most of the spread of recall@K is between users,
 * not between recommenders, and it cancels in a − b. Seeded, so a stored verdict can be reproduced.
 * Throws RangeError when the arrays differ in length; an empty pair gives a zero-width interval at 0.
 */
export function pairedBootstrap(a: ArrayLike<number>, b: ArrayLike<number>, options: { resamples?: number; level?: number; seed?: number } = {}): PairedDifference {
  if (a.length !== b.length) throw new RangeError(`paired values differ in length (${a.length} and ${b.length})`);
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const n = a.length;
  const differences = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += differences[i] = a[i] - b[i];
  if (n === 0) return { difference: 0, low: 0, high: 0, level, resamples };
  const rng = Rng.stream(options.seed ?? 20_140_521);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += differences[rng.below(n)];
    means[r] = sum / n;
  }
  means.sort();
  const tail = (1 - level) / 2;
  const at = (q: number) => means[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return { difference: total / n, low: at(tail), high: at(1 - tail), level, resamples };
}

/** Differences of means of several measures between two independent groups, each with its bootstrap interval. */
export interface TwoSampleDifferences {
  /** Per measure: mean over group a. */
  meanA: number[];
  meanB: number[];
  /** Per measure: meanA − meanB, and the `level` percentile interval of its resampled values. */
  difference: number[];
  low: number[];
  high: number[];
  level: number;
  resamples: number;
}

/**
 * Unpaired (two-sample) bootstrap of mean(a) − mean(b) for several measures at once: `a[m][i]` is
 * measure m of unit i of group a, likewise `b`. Each resample draws group a's units and group b's
 * units with replacement, separately (the groups are independent samples), and the same draw serves
 * every measure; the interval is the percentile interval of the resampled differences (Efron and
 * Tibshirani, "An Introduction to the Bootstrap", 1993, ch. 13, and §8.3 for two samples). Seeded,
 * so the same data gives the same intervals. Throws RangeError when a group is empty or a measure's
 * length differs from its group's first.
 */
export function twoSampleBootstrap(
  a: readonly ArrayLike<number>[],
  b: readonly ArrayLike<number>[],
  options: { resamples?: number; level?: number; seed?: number } = {},
): TwoSampleDifferences {
  if (a.length !== b.length) throw new RangeError(`the groups have ${a.length} and ${b.length} measures`);
  const measures = a.length;
  const na = measures ? a[0].length : 0;
  const nb = measures ? b[0].length : 0;
  if (measures && (na === 0 || nb === 0)) throw new RangeError('each group needs at least one unit');
  for (let m = 0; m < measures; m++) if (a[m].length !== na || b[m].length !== nb) throw new RangeError(`measure ${m} has ${a[m].length} and ${b[m].length} units, not ${na} and ${nb}`);
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const meanOf = (values: ArrayLike<number>) => {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i];
    return sum / values.length;
  };
  const meanA = a.map(meanOf);
  const meanB = b.map(meanOf);
  const rng = Rng.stream(options.seed ?? 19_930_101);
  const differences = Array.from({ length: measures }, () => new Float64Array(resamples));
  const drawA = new Int32Array(na);
  const drawB = new Int32Array(nb);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < na; i++) drawA[i] = rng.below(na);
    for (let i = 0; i < nb; i++) drawB[i] = rng.below(nb);
    for (let m = 0; m < measures; m++) {
      const valuesA = a[m];
      const valuesB = b[m];
      let sumA = 0;
      let sumB = 0;
      for (let i = 0; i < na; i++) sumA += valuesA[drawA[i]];
      for (let i = 0; i < nb; i++) sumB += valuesB[drawB[i]];
      differences[m][r] = sumA / na - sumB / nb;
    }
  }
  const tail = (1 - level) / 2;
  const at = (sorted: Float64Array, q: number) => sorted[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  const low: number[] = [];
  const high: number[] = [];
  for (const resampled of differences) {
    resampled.sort();
    low.push(at(resampled, tail));
    high.push(at(resampled, 1 - tail));
  }
  return { meanA, meanB, difference: meanA.map((mean, m) => mean - meanB[m]), low, high, level, resamples };
}

/**
 * The popularity baseline: items by how many distinct users interacted with them before T, the
 * same list for everyone minus each user's excluded items.
 */
export function popularityRecommender(pairItems: ArrayLike<number>): (user: number, excluded: ReadonlySet<number>, k?: number) => number[] {
  const users = new Map<number, number>();
  for (let i = 0; i < pairItems.length; i++) users.set(pairItems[i], (users.get(pairItems[i]) ?? 0) + 1);
  const ranked = [...users].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([item]) => item);
  return (_user, excluded, k = ranked.length) => {
    const list: number[] = [];
    for (const item of ranked) {
      if (list.length >= k) break;
      if (!excluded.has(item)) list.push(item);
    }
    return list;
  };
}
