import { Rng } from './random';

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

function checkPairs(scores: ArrayLike<unknown>, labels: ArrayLike<unknown>): void {
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

/**
 * AUC with a weight per row (a row of weight k counts as k copies of it; weight 0 leaves it out):
 * the weighted chance that a positive scores above a negative, ties counting half. `order` may
 * pass the rows already sorted by score ascending (as `pairedClassificationBootstrap` does, to sort once for
 * many weightings). NaN when either class has no weight.
 */
export function weightedAuc(scores: ArrayLike<number>, labels: ArrayLike<number>, weights: ArrayLike<number>, order?: ArrayLike<number>): number {
  checkPairs(scores, labels);
  checkPairs(scores, weights);
  const sorted = order ?? Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let negativesBelow = 0;
  let positiveTotal = 0;
  let concordant = 0;
  for (let start = 0; start < sorted.length; ) {
    let end = start;
    while (end + 1 < sorted.length && scores[sorted[end + 1]] === scores[sorted[start]]) end++;
    let positives = 0;
    let negatives = 0;
    for (let i = start; i <= end; i++) {
      const row = sorted[i];
      if (labels[row] === 1) positives += weights[row];
      else negatives += weights[row];
    }
    concordant += positives * (negativesBelow + negatives / 2);
    negativesBelow += negatives;
    positiveTotal += positives;
    start = end + 1;
  }
  return positiveTotal === 0 || negativesBelow === 0 ? NaN : concordant / (positiveTotal * negativesBelow);
}

/** One metric of a paired comparison: both values on the full sample, their difference (model − rival) and its bootstrap interval. */
export interface PairedInterval {
  model: number;
  rival: number;
  /** model − rival on the full sample. */
  difference: number;
  /** Percentile bootstrap interval of the difference (95 % unless asked otherwise). */
  lower: number;
  upper: number;
}

/**
 * Two sets of predicted probabilities for the same rows compared by AUC, log loss and Brier score.
 * Every difference is model − rival, so the model is better where the AUC interval lies above zero
 * and the log-loss and Brier intervals below it (`modelBetter`).
 */
export interface PairedComparison {
  rows: number;
  /** Independent units resampled (users, visits, or rows when no groups were given). */
  groups: number;
  resamples: number;
  level: number;
  auc: PairedInterval;
  logLoss: PairedInterval;
  brier: PairedInterval;
  /** Per metric: the interval excludes zero on the model's side. */
  modelBetter: { auc: boolean; logLoss: boolean; brier: boolean };
}

export interface PairedBootstrapOptions {
  /** One key per row: rows with the same key (one user's examples) are resampled together. Default: every row on its own. */
  groups?: ArrayLike<string | number>;
  /** Default 1000. */
  resamples?: number;
  /** Default 1 (fixed, so a report or a selection is reproducible). */
  seed?: number;
  /** Central share of the bootstrap distribution the interval covers; default 0.95. */
  level?: number;
}

function quantileOfSorted(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const at = q * (sorted.length - 1);
  const below = Math.floor(at);
  const above = Math.min(sorted.length - 1, below + 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (at - below);
}

/**
 * Paired bootstrap of the difference between two models' predictions on the same held-out rows
 * (Efron & Tibshirani, An Introduction to the Bootstrap, 1993, ch. 13: percentile intervals): each
 * resample draws as many groups as there are, with replacement, and weighs each row by how often
 * its group was drawn (a cluster bootstrap, so a user's correlated examples at several cutoffs move
 * together); both models are scored on the same resample and the difference is kept. The interval
 * is the (1 − level)/2 and (1 + level)/2 quantiles of those differences. Resamples without both
 * classes are skipped for AUC. Each resample costs O(rows): the rows are sorted by each model's
 * score once.
 *
 * Throws RangeError when the arrays differ in length, or when there are no rows.
 */
export function pairedClassificationBootstrap(model: ArrayLike<number>, rival: ArrayLike<number>, labels: ArrayLike<number>, options: PairedBootstrapOptions = {}): PairedComparison {
  checkPairs(model, labels);
  checkPairs(rival, labels);
  const rows = labels.length;
  if (rows === 0) throw new RangeError('pairedClassificationBootstrap needs at least one row');
  const resamples = options.resamples ?? 1000;
  const level = options.level ?? 0.95;
  const groupOf = new Int32Array(rows);
  let groupCount = rows;
  if (options.groups) {
    checkPairs(options.groups, labels);
    const index = new Map<string | number, number>();
    for (let r = 0; r < rows; r++) {
      const key = options.groups[r];
      let g = index.get(key);
      if (g === undefined) index.set(key, (g = index.size));
      groupOf[r] = g;
    }
    groupCount = index.size;
  } else for (let r = 0; r < rows; r++) groupOf[r] = r;

  // Per group: its rows and the sums of the two models' row losses, so a resample's mean loss is a
  // sum over groups; for AUC each model's rows sorted once, with the tie blocks marked.
  const groupRows = new Float64Array(groupCount);
  const logLossSums = [new Float64Array(groupCount), new Float64Array(groupCount)];
  const brierSums = [new Float64Array(groupCount), new Float64Array(groupCount)];
  const modelLoss = rowLogLosses(model, labels);
  const rivalLoss = rowLogLosses(rival, labels);
  for (let r = 0; r < rows; r++) {
    const g = groupOf[r];
    groupRows[g]++;
    logLossSums[0][g] += modelLoss[r];
    logLossSums[1][g] += rivalLoss[r];
    brierSums[0][g] += (model[r] - labels[r]) ** 2;
    brierSums[1][g] += (rival[r] - labels[r]) ** 2;
  }
  const sortedFor = (scores: ArrayLike<number>) => {
    const order = Int32Array.from({ length: rows }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
    const positive = Uint8Array.from(order, (row) => (labels[row] === 1 ? 1 : 0));
    const group = Int32Array.from(order, (row) => groupOf[row]);
    // blockEnd[i]: one past the last row tied with row i's score (read at each block's first row).
    const blockEnd = new Int32Array(rows);
    for (let start = 0; start < rows; ) {
      let end = start + 1;
      while (end < rows && scores[order[end]] === scores[order[start]]) end++;
      blockEnd[start] = end;
      start = end;
    }
    return { positive, group, blockEnd };
  };
  const sorted = [sortedFor(model), sortedFor(rival)];
  /** AUC of model m (0 or 1) with each group counted `drawn[g]` times. */
  const aucOf = (m: number, drawn: Float64Array) => {
    const { positive, group, blockEnd } = sorted[m];
    let negativesBelow = 0;
    let positiveTotal = 0;
    let concordant = 0;
    for (let start = 0; start < rows; ) {
      const end = blockEnd[start];
      let positives = 0;
      let negatives = 0;
      for (let i = start; i < end; i++) {
        const w = drawn[group[i]];
        positives += w * positive[i];
        negatives += w * (1 - positive[i]);
      }
      concordant += positives * (negativesBelow + negatives / 2);
      negativesBelow += negatives;
      positiveTotal += positives;
      start = end;
    }
    return positiveTotal === 0 || negativesBelow === 0 ? NaN : concordant / (positiveTotal * negativesBelow);
  };
  const meanOf = (sums: Float64Array, drawn: Float64Array) => {
    let total = 0;
    let weight = 0;
    for (let g = 0; g < groupCount; g++) {
      total += sums[g] * drawn[g];
      weight += groupRows[g] * drawn[g];
    }
    return total / weight;
  };

  const once = new Float64Array(groupCount).fill(1);
  const full = {
    auc: [aucOf(0, once), aucOf(1, once)],
    logLoss: [meanOf(logLossSums[0], once), meanOf(logLossSums[1], once)],
    brier: [meanOf(brierSums[0], once), meanOf(brierSums[1], once)],
  };

  const rng = new Rng(options.seed ?? 1);
  const drawn = new Float64Array(groupCount);
  const aucDifferences: number[] = [];
  const logLossDifferences = new Float64Array(resamples);
  const brierDifferences = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    drawn.fill(0);
    for (let n = 0; n < groupCount; n++) drawn[rng.below(groupCount)]++;
    const aucDifference = aucOf(0, drawn) - aucOf(1, drawn);
    if (Number.isFinite(aucDifference)) aucDifferences.push(aucDifference);
    logLossDifferences[b] = meanOf(logLossSums[0], drawn) - meanOf(logLossSums[1], drawn);
    brierDifferences[b] = meanOf(brierSums[0], drawn) - meanOf(brierSums[1], drawn);
  }
  const interval = ([m, r]: number[], differences: Float64Array): PairedInterval => {
    differences.sort();
    return { model: m, rival: r, difference: m - r, lower: quantileOfSorted(differences, (1 - level) / 2), upper: quantileOfSorted(differences, (1 + level) / 2) };
  };
  const aucInterval = interval(full.auc, Float64Array.from(aucDifferences));
  const logLossInterval = interval(full.logLoss, logLossDifferences);
  const brierInterval = interval(full.brier, brierDifferences);
  return {
    rows,
    groups: groupCount,
    resamples,
    level,
    auc: aucInterval,
    logLoss: logLossInterval,
    brier: brierInterval,
    modelBetter: { auc: aucInterval.lower > 0, logLoss: logLossInterval.upper < 0, brier: brierInterval.upper < 0 },
  };
}
