import { fitLogistic, predictLogisticRows } from '../ml/logistic-regression';
import { Rng } from '../ml/random';
import { loadTf } from '../ml/tf-backend';
import type { UserHistory } from './datasets';
import { evaluateUserPropensity } from './evaluation';
import type { HandFeature } from './features';
import { bestSingleFeature, featureColumn, outOfFoldPredictions, selectServedModel, singleFeatureLogistic } from './propensity-selection';
import type { PredictionEvent } from './session-events';

const names = (...list: string[]): HandFeature[] => list.map((name) => ({ name, group: name }));

/** Rows where the label follows feature 1 (its chance rises with it), feature 0 is noise, feature 2 falls as feature 1 rises, blurred by noise wider than a step. */
function syntheticRows(count: number, seed: number) {
  const rng = new Rng(seed);
  const features = new Float32Array(count * 3);
  const labels = new Uint8Array(count);
  for (let r = 0; r < count; r++) {
    const signal = rng.below(4);
    features[r * 3] = rng.next();
    features[r * 3 + 1] = signal;
    features[r * 3 + 2] = 5 - signal + 2 * rng.next();
    labels[r] = rng.next() < 0.1 + 0.2 * signal ? 1 : 0;
  }
  return { features, labels };
}

describe('singleFeatureLogistic', () => {
  it('is the one-column logistic regression, written in the full width', () => {
    const { features, labels } = syntheticRows(300, 1);
    const full = singleFeatureLogistic(features, 3, labels, 1);
    const oneColumn = fitLogistic(featureColumn(features, 3, 1), 1, labels);
    expect(full.weights[1]).toBe(0);
    expect(full.weights[3]).toBe(0);
    const a = predictLogisticRows(full, features);
    const b = predictLogisticRows(oneColumn, featureColumn(features, 3, 1));
    for (let r = 0; r < a.length; r++) expect(a[r]).toBeCloseTo(b[r], 10);
    expect(() => singleFeatureLogistic(features, 3, labels, 3)).toThrow(RangeError);
  });
});

describe('bestSingleFeature', () => {
  it('picks the feature the label follows, orients a falling one, and fits its rule on the fit rows', () => {
    const training = syntheticRows(1000, 2);
    const fit = { features: training.features.slice(0, 600 * 3), labels: training.labels.slice(0, 600) };
    const chosen = bestSingleFeature(training, fit, names('noise', 'past purchases', 'falling'));
    // Feature 2 is feature 1 reversed and blurred: it ranks worse, but better than chance once
    // turned round (its covariance with the label is negative).
    expect(chosen.name).toBe('past purchases');
    expect(chosen.trainingAuc).toBeGreaterThan(0.65);
    const onlyFalling = bestSingleFeature(training, fit, names('noise', 'x', 'falling'));
    expect(onlyFalling.name).toBe('x'); // 'x' is still feature 1
    const withoutSignal = bestSingleFeature(
      { features: Float32Array.from(training.features).map((v, i) => (i % 3 === 1 ? 0 : v)), labels: training.labels },
      fit,
      names('noise', 'constant', 'falling'),
    );
    expect(withoutSignal.name).toBe('falling');
    expect(withoutSignal.trainingAuc).toBeGreaterThan(0.6);
    // The rule: fitted on the fit rows only, and rising with feature 1.
    expect(chosen.model.weights).toEqual(singleFeatureLogistic(fit.features, 3, fit.labels, 1).weights);
    const low = predictLogisticRows(chosen.model, [0.5, 0, 5]);
    const high = predictLogisticRows(chosen.model, [0.5, 3, 2]);
    expect(high[0]).toBeGreaterThan(low[0]);
  });
});

describe('outOfFoldPredictions', () => {
  it('scores each group with a model fitted without it', () => {
    // Two groups per fold would leak if a row's own group were fitted: give every group a label
    // its single row alone decides, and a constant-feature model can only return the others' rate.
    const features = new Float32Array(10).fill(1);
    const labels = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const groups = Array.from({ length: 10 }, (_, i) => `u${i}`);
    const predictions = outOfFoldPredictions(features, 1, labels, groups, (f, y) => fitLogistic(f, 1, y), 5, 7);
    // The buyer's fold holds it and one other row: fitted on 8 non-buyers its prediction is near 0;
    // the rows of the other folds see the buyer among 8 rows: about 1/8.
    expect(predictions[0]).toBeLessThan(0.01);
    const others = Array.from(predictions.slice(1));
    expect(others.filter((p) => Math.abs(p - 1 / 8) < 0.01)).toHaveLength(8);
    expect(() => outOfFoldPredictions(features, 1, labels, groups.slice(0, 3).concat(Array(7).fill('u0')), (f, y) => fitLogistic(f, 1, y), 5)).toThrow(RangeError);
  });
});

describe('selectServedModel', () => {
  // 400 users, one row each; `truth` is each one's chance.
  const rng = new Rng(11);
  const truth = Array.from({ length: 400 }, () => rng.next() ** 2);
  const labels = truth.map((p): number => (rng.next() < p ? 1 : 0));
  const groups = truth.map((_, i) => `u${i}`);
  const noisy = (amount: number) => truth.map((p) => Math.min(0.99, Math.max(0.01, p + amount * (rng.next() - 0.5))));
  const constant = truth.map(() => labels.reduce((a, b) => a + b, 0) / labels.length);
  const rough = noisy(0.9);
  const fine = noisy(0.2);
  const select = (network: number[], logistic: number[], singleFeature: number[], bestEpoch = 2) =>
    selectServedModel({ heldOut: { labels, groups, network, logistic, singleFeature }, singleFeatureName: 'past purchases', bestEpoch, unit: 'users' });

  it('serves the network only when it clearly beats both rivals', () => {
    const chosen = select(truth, rough, constant);
    expect(chosen.servedModel).toBe('network');
    expect(chosen.reason).toMatch(/^the network beats the logistic model \(AUC \+0\.\d{3}, 95 % CI \+0\.\d{3} to \+0\.\d{3}/);
    expect(chosen.networkVsLogistic.modelBetter.auc).toBe(true);
  });

  it('never serves a network that did not leave its logistic start, however its numbers look', () => {
    const chosen = select(truth, rough, constant, 0);
    expect(chosen.servedModel).not.toBe('network');
    expect(chosen.reason).toMatch(/^no epoch of the network beat its logistic start/);
  });

  it('serves the logistic model when the network is no better than it but both beat the single feature', () => {
    const chosen = select(fine, fine, constant);
    expect(chosen.servedModel).toBe('logistic');
    expect(chosen.reason).toMatch(/the network does not clearly beat both rivals .*; the logistic model beats the single feature "past purchases"/);
  });

  it('serves the single feature when neither model clearly beats it', () => {
    const chosen = select(fine, fine, fine);
    expect(chosen.servedModel).toBe('single-feature');
    expect(chosen.reason).toMatch(/does not clearly beat the single feature "past purchases" .* so that feature serves/);
  });

  it('compares the logistic model and the single feature out of fold when those rows are given', () => {
    // On the held-out rows the logistic model looks no better; out of fold (more rows) it is.
    const chosen = selectServedModel({
      heldOut: { labels, groups, network: fine, logistic: fine, singleFeature: fine },
      outOfFold: { labels, groups, logistic: truth, singleFeature: constant },
      singleFeatureName: 'orders',
      bestEpoch: 0,
      unit: 'users',
    });
    expect(chosen.servedModel).toBe('logistic');
    expect(chosen.logisticVsSingleFeatureOn).toBe('out of fold');
    expect(chosen.reason).toMatch(/out of fold on 400 training users$/);
  });
});

describe('evaluateUserPropensity on a shop where only past purchases tell buyers apart', () => {
  it('does not serve the network, and the chosen rule reads purchases', async () => {
    // 500 users over 20 days: a hidden type 0–3 sets how often they buy (Poisson, 0.12 a day per
    // type step); views come at the same rate for everyone, so only the purchase history says who
    // buys next, and the event sequence holds nothing the counts do not.
    const DAY = 86_400_000;
    const rng = new Rng(5);
    const histories: UserHistory[] = [];
    for (let u = 0; u < 500; u++) {
      const type = u % 4;
      const events: PredictionEvent[] = [];
      const add = (kind: string, rate: number) => {
        for (let at = rng.exponential(DAY / rate); at < 20 * DAY; at += rng.exponential(DAY / rate)) {
          events.push({ type: kind, timestamp: Math.round(at), sessionId: `s${u}-${events.length}`, category: null, price: 10, device: null, channel: null });
        }
      };
      add('view', 1.5);
      if (type > 0) add('purchase', 0.12 * type);
      events.sort((a, b) => a.timestamp - b.timestamp);
      if (events.length) histories.push({ userKey: `u${u}`, events });
    }
    const { tf } = await loadTf('wasm');
    const result = await evaluateUserPropensity(
      tf,
      histories,
      { fromMs: 0, splitMs: 18 * DAY, horizonMs: 2 * DAY, activeMs: 30 * DAY, cutoffStepMs: DAY },
      { units: 4, hiddenUnits: 4, window: 4, seed: 3, epochs: 2, batchSize: 64, learningRate: 0.01, calibrationShare: 0.2 },
    );
    const evaluation = result.evaluation;
    expect(evaluation.servedModel).not.toBe('network');
    expect(['orders', 'past purchases', 'amount spent', 'hours since last purchase', 'never purchased']).toContain(evaluation.selection.bestSingleFeature.name);
    expect(evaluation.reason.length).toBeGreaterThan(20);
    // The served model is scored on the held-out users with intervals against every rival.
    for (const rival of ['pastPurchases', 'baseRate', 'singleFeature', 'logistic'] as const) {
      const { auc } = evaluation.versus[rival];
      expect(auc.lower).toBeLessThanOrEqual(auc.difference);
      expect(auc.upper).toBeGreaterThanOrEqual(auc.difference);
    }
    expect(evaluation.calibration.baseRateBrier).toBe(evaluation.baseRateBaseline.brier);
    result.model.network.dispose();
  }, 60_000);
});
