/**
 * The metrics every model is judged by. Ranking metrics take one user's recommended list (best
 * first) and the set of items that user went on to interact with; the harness averages them over
 * users. Classification metrics take predicted probabilities and 0/1 labels.
 */

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a whole number ≥ 1 (got ${k})`);
}

function hitsInTopK(recommended: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  checkK(k);
  let hits = 0;
  for (let rank = 0; rank < Math.min(k, recommended.length); rank++) if (relevant.has(recommended[rank])) hits++;
  return hits;
}

/** Share of the relevant items found in the top k; 0 when nothing is relevant. */
export function recallAtK(recommended: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  return relevant.size === 0 ? 0 : hitsInTopK(recommended, relevant, k) / relevant.size;
}

/** Share of the k slots holding a relevant item (a list shorter than k counts its empty slots as misses). */
export function precisionAtK(recommended: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  return hitsInTopK(recommended, relevant, k) / k;
}

/** 1 when any of the top k is relevant. */
export function hitAtK(recommended: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  return hitsInTopK(recommended, relevant, k) > 0 ? 1 : 0;
}

/** Binary-relevance NDCG: DCG of the top k over the DCG of a list with every relevant item first. */
export function ndcgAtK(recommended: readonly number[], relevant: ReadonlySet<number>, k: number): number {
  checkK(k);
  let dcg = 0;
  for (let rank = 0; rank < Math.min(k, recommended.length); rank++) {
    if (relevant.has(recommended[rank])) dcg += 1 / Math.log2(rank + 2);
  }
  let ideal = 0;
  for (let rank = 0; rank < Math.min(k, relevant.size); rank++) ideal += 1 / Math.log2(rank + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

/** 1 / rank of the first relevant item (ranks start at 1), 0 when none is in the list; MRR is its mean. */
export function reciprocalRank(recommended: readonly number[], relevant: ReadonlySet<number>): number {
  for (let rank = 0; rank < recommended.length; rank++) if (relevant.has(recommended[rank])) return 1 / (rank + 1);
  return 0;
}

/** Share of the catalogue that appears in at least one user's top k. */
export function catalogueCoverage(lists: Iterable<readonly number[]>, catalogueSize: number, k: number): number {
  checkK(k);
  if (catalogueSize <= 0) return 0;
  const seen = new Set<number>();
  for (const list of lists) for (let rank = 0; rank < Math.min(k, list.length); rank++) seen.add(list[rank]);
  return seen.size / catalogueSize;
}

function checkPairs(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length !== labels.length) throw new RangeError(`scores and labels differ in length (${scores.length} vs ${labels.length})`);
}

/**
 * Area under the ROC curve: the chance that a random positive scores above a random negative,
 * ties counting half (the Mann–Whitney statistic, computed from ranks in O(n log n)).
 * NaN when either class is missing.
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkPairs(scores, labels);
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  let positiveRankSum = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[start]]) end++;
    const midRank = (start + end) / 2 + 1; // tied scores share their average rank
    for (let i = start; i <= end; i++) {
      if (labels[order[i]] === 1) {
        positives++;
        positiveRankSum += midRank;
      }
    }
    start = end + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Binary cross-entropy of each row, natural log; probabilities are clipped to [ε, 1 − ε] so one sure miss stays finite. */
export function rowLogLosses(probabilities: ArrayLike<number>, labels: ArrayLike<number>, epsilon = 1e-15): Float64Array {
  checkPairs(probabilities, labels);
  return Float64Array.from(labels, (label, i) => {
    const p = Math.min(1 - epsilon, Math.max(epsilon, probabilities[i]));
    return label === 1 ? -Math.log(p) : -Math.log(1 - p);
  });
}

/** Mean binary cross-entropy (the mean of `rowLogLosses`); NaN for no rows. */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>, epsilon = 1e-15): number {
  const losses = rowLogLosses(probabilities, labels, epsilon);
  if (losses.length === 0) return NaN;
  let total = 0;
  for (const loss of losses) total += loss;
  return total / losses.length;
}

export interface ClassificationMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  truePositives: number;
  falsePositives: number;
  trueNegatives: number;
  falseNegatives: number;
}

/** Confusion counts and the usual ratios at a threshold (predicted positive when p ≥ threshold); 0 where a ratio is 0/0. */
export function classificationMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>, threshold = 0.5): ClassificationMetrics {
  checkPairs(probabilities, labels);
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const predicted = probabilities[i] >= threshold;
    const actual = labels[i] === 1;
    if (predicted && actual) tp++;
    else if (predicted) fp++;
    else if (actual) fn++;
    else tn++;
  }
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const precision = ratio(tp, tp + fp);
  const recall = ratio(tp, tp + fn);
  return {
    accuracy: ratio(tp + tn, probabilities.length),
    precision,
    recall,
    f1: ratio(2 * precision * recall, precision + recall),
    truePositives: tp,
    falsePositives: fp,
    trueNegatives: tn,
    falseNegatives: fn,
  };
}

/**
 * Share of pairs that two scorings order the same way (ties in either count half): 0.5 is chance,
 * 1 perfect agreement. Used to ask whether a model recovered a known ground truth.
 */
export function pairwiseConcordance(predicted: ArrayLike<number>, truth: ArrayLike<number>): number {
  checkPairs(predicted, truth);
  let agreeing = 0;
  let pairs = 0;
  for (let a = 0; a < predicted.length; a++) {
    for (let b = a + 1; b < predicted.length; b++) {
      const truthOrder = Math.sign(truth[a] - truth[b]);
      const predictedOrder = Math.sign(predicted[a] - predicted[b]);
      pairs++;
      if (truthOrder === 0 || predictedOrder === 0) agreeing += 0.5;
      else if (truthOrder === predictedOrder) agreeing += 1;
    }
  }
  return pairs === 0 ? NaN : agreeing / pairs;
}
