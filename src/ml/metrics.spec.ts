import {
  auc,
  catalogueCoverage,
  classificationMetrics,
  hitAtK,
  logLoss,
  ndcgAtK,
  pairedClassificationBootstrap,
  pairwiseConcordance,
  precisionAtK,
  recallAtK,
  reciprocalRank,
  weightedAuc,
} from './metrics';
import { Rng } from './random';

// One user: recommended best first, and the three items they went on to buy (42 was never recommended).
const recommended = [5, 3, 9, 1, 7];
const relevant = new Set([3, 7, 42]);

describe('ranking metrics (hand-computed)', () => {
  it('recall@K and precision@K count hits in the top K', () => {
    expect(recallAtK(recommended, relevant, 3)).toBeCloseTo(1 / 3, 12); // only 3 in [5, 3, 9]
    expect(recallAtK(recommended, relevant, 5)).toBeCloseTo(2 / 3, 12); // 3 and 7
    expect(precisionAtK(recommended, relevant, 3)).toBeCloseTo(1 / 3, 12);
    expect(precisionAtK(recommended, relevant, 5)).toBeCloseTo(0.4, 12);
    // A list shorter than K still has K slots: 2 hits in 10 slots.
    expect(precisionAtK(recommended, relevant, 10)).toBeCloseTo(0.2, 12);
  });

  it('hit rate is 1 once a relevant item is in the top K', () => {
    expect(hitAtK(recommended, relevant, 1)).toBe(0);
    expect(hitAtK(recommended, relevant, 2)).toBe(1);
  });

  it('NDCG@K discounts hits by log2(rank + 1) against the ideal ordering', () => {
    // Hits at ranks 2 and 5: DCG = 1/log2(3) + 1/log2(6) = 0.63093 + 0.38685 = 1.01778.
    // Ideal: three relevant items at ranks 1–3: 1 + 0.63093 + 0.5 = 2.13093.
    expect(ndcgAtK(recommended, relevant, 5)).toBeCloseTo(1.0177826 / 2.1309298, 6);
    expect(ndcgAtK(recommended, relevant, 5)).toBeCloseTo(0.477624, 6);
    // K = 2: DCG = 0.63093, ideal = 1 + 0.63093.
    expect(ndcgAtK(recommended, relevant, 2)).toBeCloseTo(0.38685, 5);
    expect(ndcgAtK([3, 7, 42], relevant, 3)).toBeCloseTo(1, 12);
  });

  it('reciprocal rank is 1 / the rank of the first hit', () => {
    expect(reciprocalRank(recommended, relevant)).toBe(0.5);
    expect(reciprocalRank([1, 2], relevant)).toBe(0);
  });

  it('a user with nothing relevant scores 0, not NaN', () => {
    expect(recallAtK(recommended, new Set(), 5)).toBe(0);
    expect(ndcgAtK(recommended, new Set(), 5)).toBe(0);
  });

  it('catalogue coverage counts distinct items in anyone’s top K', () => {
    // Top 2 of each list: {1, 2} ∪ {3, 4} = 4 of 10 items.
    expect(catalogueCoverage([[1, 2, 3], [3, 4, 5]], 10, 2)).toBeCloseTo(0.4, 12);
    expect(catalogueCoverage([[1, 2, 3], [3, 4, 5]], 10, 3)).toBeCloseTo(0.5, 12);
  });

  it('rejects a K that is not a positive whole number', () => {
    expect(() => recallAtK(recommended, relevant, 0)).toThrow(/k must be a whole number/);
  });
});

describe('classification metrics (hand-computed)', () => {
  it('AUC is the share of positive–negative pairs ordered correctly', () => {
    // Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 0.35 beats 0.1 only, 0.8 beats both → 3/4.
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    // A tie between a positive and a negative counts half: (0.5 + 1 + 1 + 1) / 4.
    expect(auc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1])).toBeCloseTo(0.875, 12);
    expect(auc([0.3, 0.6], [1, 1])).toBeNaN();
  });

  it('log loss is the mean negative log-likelihood', () => {
    // −(ln 0.9 + ln 0.8) / 2 = (0.1053605 + 0.2231436) / 2.
    expect(logLoss([0.9, 0.2], [1, 0])).toBeCloseTo(0.164252, 6);
    // A certain miss is clipped, so it is large but finite: −ln(1e-15) = 34.5388.
    expect(logLoss([0], [1])).toBeCloseTo(34.5388, 4);
  });

  it('accuracy, precision, recall and F1 come from the confusion counts', () => {
    // Predicted positive at ≥ 0.5: 0.9 (TP), 0.6 (FP), 0.7 (TP); negative: 0.4 (FN), 0.2 (TN).
    const metrics = classificationMetrics([0.9, 0.6, 0.4, 0.2, 0.7], [1, 0, 1, 0, 1]);
    expect(metrics).toMatchObject({ truePositives: 2, falsePositives: 1, falseNegatives: 1, trueNegatives: 1 });
    expect(metrics.accuracy).toBeCloseTo(0.6, 12);
    expect(metrics.precision).toBeCloseTo(2 / 3, 12);
    expect(metrics.recall).toBeCloseTo(2 / 3, 12);
    expect(metrics.f1).toBeCloseTo(2 / 3, 12);
    // Nothing predicted positive: precision is 0 rather than 0/0.
    expect(classificationMetrics([0.1, 0.2], [1, 0]).precision).toBe(0);
  });

  it('pairwise concordance is 0.5 for chance and 1 for the same order', () => {
    // Pairs (a,b),(a,c) agree, (b,c) disagrees → 2/3.
    expect(pairwiseConcordance([1, 2, 3], [10, 30, 20])).toBeCloseTo(2 / 3, 12);
    expect(pairwiseConcordance([1, 2, 3], [5, 6, 7])).toBe(1);
    expect(pairwiseConcordance([1, 1], [5, 6])).toBe(0.5);
  });
});

describe('weightedAuc', () => {
  it('counts a row of weight k as k copies and leaves weight 0 out', () => {
    const scores = [0.1, 0.4, 0.35, 0.8, 0.4];
    const labels = [0, 0, 1, 1, 1];
    const weights = [2, 1, 0, 3, 1];
    // Positives: 0.8 (×3) and 0.4 (×1); negatives: 0.1 (×2) and 0.4 (×1). Pairs 4 × 3 = 12:
    // 0.8 beats all three negatives (9), 0.4 beats the two 0.1s (2) and ties the 0.4 (0.5).
    expect(weightedAuc(scores, labels, weights)).toBeCloseTo(11.5 / 12, 12);
    const expanded = weights.flatMap((w, i) => Array(w).fill(i));
    expect(weightedAuc(scores, labels, weights)).toBeCloseTo(auc(expanded.map((i) => scores[i]), expanded.map((i) => labels[i])), 12);
    expect(weightedAuc(scores, labels, [1, 1, 0, 0, 0])).toBeNaN(); // no positive weight
  });
});

describe('pairedClassificationBootstrap', () => {
  it('finds no difference between a model and itself', () => {
    const p = [0.2, 0.7, 0.4, 0.9, 0.1, 0.5];
    const y = [0, 1, 0, 1, 0, 1];
    const c = pairedClassificationBootstrap(p, p, y, { resamples: 200 });
    for (const metric of [c.auc, c.logLoss, c.brier]) expect([metric.difference, metric.lower, metric.upper]).toEqual([0, 0, 0]);
    expect(c.modelBetter).toEqual({ auc: false, logLoss: false, brier: false });
  });

  it('gives the exact difference when every resample agrees: a separating model against a constant', () => {
    const y = [1, 0, 0, 1, 0, 0, 0, 1];
    const model = y.map((label) => (label ? 0.9 : 0.1));
    const constant = y.map(() => 0.5);
    const c = pairedClassificationBootstrap(model, constant, y, { resamples: 300, seed: 4 });
    // AUC 1 against 0.5 in every resample that holds both classes.
    expect(c.auc).toEqual({ model: 1, rival: 0.5, difference: 0.5, lower: 0.5, upper: 0.5 });
    // Every row loses −ln 0.9 against ln 2, and 0.01 against 0.25 squared error.
    const logLossDifference = -Math.log(0.9) - Math.log(2);
    expect(c.logLoss.difference).toBeCloseTo(logLossDifference, 12);
    expect(c.logLoss.lower).toBeCloseTo(logLossDifference, 12);
    expect(c.logLoss.upper).toBeCloseTo(logLossDifference, 12);
    expect(c.brier.lower).toBeCloseTo(-0.24, 12);
    expect(c.brier.upper).toBeCloseTo(-0.24, 12);
    expect(c.modelBetter).toEqual({ auc: true, logLoss: true, brier: true });
  });

  it('resamples groups whole: five copies of each row in one group equal the rows resampled alone', () => {
    const rng = new Rng(8);
    const truth = Array.from({ length: 40 }, () => rng.next());
    const y = truth.map((p) => (rng.next() < p ? 1 : 0));
    const model = truth.map((p) => Math.min(0.99, Math.max(0.01, p + 0.2 * (rng.next() - 0.5))));
    const rival = truth.map(() => rng.next());
    const copies = (values: number[]) => values.flatMap((v) => [v, v, v, v, v]);
    const single = pairedClassificationBootstrap(model, rival, y, { resamples: 400, seed: 9 });
    const grouped = pairedClassificationBootstrap(copies(model), copies(rival), copies(y), { resamples: 400, seed: 9, groups: copies(truth.map((_, i) => i)) });
    expect(grouped.groups).toBe(40);
    for (const metric of ['auc', 'logLoss', 'brier'] as const) {
      expect(grouped[metric].lower).toBeCloseTo(single[metric].lower, 9);
      expect(grouped[metric].upper).toBeCloseTo(single[metric].upper, 9);
    }
    // Treating the copies as independent would claim five times the evidence: a narrower interval.
    const naive = pairedClassificationBootstrap(copies(model), copies(rival), copies(y), { resamples: 400, seed: 9 });
    expect(naive.auc.upper - naive.auc.lower).toBeLessThan(0.7 * (grouped.auc.upper - grouped.auc.lower));
  });

  it('puts the interval on the better side for a model that knows the true probabilities, and is seeded', () => {
    const rng = new Rng(3);
    const truth = Array.from({ length: 600 }, () => rng.next());
    const y = truth.map((p) => (rng.next() < p ? 1 : 0));
    const noise = truth.map(() => rng.next());
    const better = pairedClassificationBootstrap(truth, noise, y);
    expect(better.auc.lower).toBeGreaterThan(0);
    expect(better.modelBetter).toEqual({ auc: true, logLoss: true, brier: true });
    const worse = pairedClassificationBootstrap(noise, truth, y);
    expect(worse.auc.upper).toBeLessThan(0);
    expect(worse.modelBetter.auc).toBe(false);
    expect(pairedClassificationBootstrap(truth, noise, y)).toEqual(better);
    expect(pairedClassificationBootstrap(truth, noise, y, { seed: 2 }).auc.lower).not.toBe(better.auc.lower);
  });
});
