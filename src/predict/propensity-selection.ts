import { auc, pairedClassificationBootstrap, type PairedComparison } from '../ml/metrics';
import { fitLogistic, predictLogisticRows, standardiser, type LogisticModel } from '../ml/logistic-regression';
import { Rng } from '../ml/random';
import { seededPermutation } from './tf-training';
import type { HandFeature } from './features';

/**
 * Which purchase-propensity model serves: the network only when it clearly beats both the logistic
 * regression and the best single hand feature on the users or visits it held out of fitting, else
 * the logistic regression when it clearly beats that feature (out of fold over the training users
 * where they are few), else the feature itself as a calibrated one-feature rule. "Clearly" is a paired
 * bootstrap interval (`pairedClassificationBootstrap`, over users or visits, 1000 resamples, seeded) of the AUC
 * difference above zero. Nothing here reads the test period: the kind evaluates the chosen model
 * there afterwards.
 */

export type ServedPropensityModel = 'network' | 'logistic' | 'single-feature';

/** Values of one column of row-major `features` (rows × width). */
export function featureColumn(features: ArrayLike<number>, width: number, feature: number): Float64Array {
  const rows = features.length / width;
  return Float64Array.from({ length: rows }, (_, r) => features[r * width + feature]);
}

/**
 * A one-feature logistic regression (Newton/IRLS, L2 `l2`) on column `feature` of `features`
 * (rows × width) — a Platt scaling of that feature into a probability — returned in the full width
 * (every other weight 0, mean and scale of every column as `standardiser` gives them), so it can
 * stand wherever the full logistic model does.
 */
export function singleFeatureLogistic(features: ArrayLike<number>, width: number, labels: ArrayLike<number>, feature: number, l2 = 1): LogisticModel {
  if (!Number.isInteger(feature) || feature < 0 || feature >= width) throw new RangeError(`feature ${feature} is not a column of ${width}`);
  const one = fitLogistic(featureColumn(features, width, feature), 1, labels, { l2 });
  const { mean, scale } = standardiser(features, width);
  const weights = new Array<number>(width + 1).fill(0);
  weights[0] = one.weights[0];
  weights[feature + 1] = (one.weights[1] * scale[feature]) / one.scale[0];
  return { mean, scale, weights };
}

export interface SingleFeatureChoice {
  /** Index into the hand features. */
  feature: number;
  name: string;
  /** Its AUC on the training rows, oriented by its covariance with the label there. */
  trainingAuc: number;
  /** Fitted on the fit rows. */
  model: LogisticModel;
}

/**
 * The single hand feature that ranks the training rows best: each feature is oriented by the sign
 * of its covariance with the label (the sign its one-feature logistic regression takes: that fit's
 * log likelihood is concave and its slope at weight 0 is n·covariance) and scored by AUC over
 * `training` (the fit and the held-out rows together: one sign per feature is all that is fitted,
 * and with few buyers a held-out share alone picks noise); the highest wins (ties: the earlier
 * feature). The rule is the winner's one-feature regression on the `fit` rows, so the held-out
 * rows can still judge it against the other models.
 */
export function bestSingleFeature(
  training: { features: ArrayLike<number>; labels: ArrayLike<number> },
  fit: { features: ArrayLike<number>; labels: ArrayLike<number> },
  names: readonly HandFeature[],
): SingleFeatureChoice {
  const width = names.length;
  if (width === 0) throw new RangeError('no hand features to choose from');
  const rows = training.labels.length;
  let rate = 0;
  for (let r = 0; r < rows; r++) rate += training.labels[r] / rows;
  let best = { feature: 0, trainingAuc: -Infinity };
  for (let j = 0; j < width; j++) {
    const values = featureColumn(training.features, width, j);
    let covariance = 0;
    for (let r = 0; r < rows; r++) covariance += (training.labels[r] - rate) * values[r];
    const sign = Math.abs(covariance) < 1e-9 * rows ? 0 : Math.sign(covariance);
    for (let r = 0; r < rows; r++) values[r] *= sign;
    const score = auc(values, training.labels);
    const trainingAuc = Number.isNaN(score) ? 0.5 : score;
    if (trainingAuc > best.trainingAuc) best = { feature: j, trainingAuc };
  }
  return { ...best, name: names[best.feature].name, model: singleFeatureLogistic(fit.features, width, fit.labels, best.feature) };
}

/**
 * Clearly better: the AUC interval of the paired difference lies above zero. Ranking decides; the
 * served model's calibration is judged on its own (its Brier score against the base rate's), since
 * a richer model that ranks better can lose log loss to a one-feature rule on a small shop by
 * overconfidence alone.
 */
export function clearlyBeats(comparison: PairedComparison): boolean {
  return comparison.modelBetter.auc;
}

/**
 * Out-of-fold probabilities: the groups (users, visits) are dealt at random into `folds` folds
 * (seeded), and each fold's rows are predicted by `fit` trained on the other folds' rows, so every
 * row is scored by a model that never saw its group. Throws RangeError for fewer groups than folds.
 */
export function outOfFoldPredictions(
  features: Float32Array,
  width: number,
  labels: Uint8Array,
  groups: readonly string[],
  fit: (features: Float32Array, labels: Uint8Array) => LogisticModel,
  folds = 5,
  seed = 1,
): Float64Array {
  const distinct = [...new Set(groups)];
  if (distinct.length < folds) throw new RangeError(`${distinct.length} groups cannot fill ${folds} folds`);
  const order = seededPermutation(distinct.length, new Rng(seed));
  const foldOf = new Map<string, number>();
  order.forEach((g, n) => foldOf.set(distinct[g], n % folds));
  const out = new Float64Array(labels.length);
  for (let fold = 0; fold < folds; fold++) {
    const inFold: number[] = [];
    const outside: number[] = [];
    groups.forEach((group, row) => (foldOf.get(group) === fold ? inFold : outside).push(row));
    const rowsOf = (rows: number[]) => {
      const picked = new Float32Array(rows.length * width);
      rows.forEach((row, n) => picked.set(features.subarray(row * width, (row + 1) * width), n * width));
      return picked;
    };
    const model = fit(rowsOf(outside), Uint8Array.from(outside, (row) => labels[row]));
    predictLogisticRows(model, rowsOf(inFold)).forEach((p, n) => (out[inFold[n]] = p));
  }
  return out;
}

export interface ModelSelection {
  servedModel: ServedPropensityModel;
  /** Why, in a sentence with the figures it rests on. */
  reason: string;
  /** The paired comparisons the rule read (differences are the first named − the second). */
  networkVsLogistic: PairedComparison;
  networkVsSingleFeature: PairedComparison;
  logisticVsSingleFeature: PairedComparison;
  /** Where logisticVsSingleFeature was measured: the network's held-out rows, or out of fold over every training row. */
  logisticVsSingleFeatureOn: 'held-out rows' | 'out of fold';
}

/** Probabilities of the models compared on one set of rows. */
export interface ComparedRows {
  labels: ArrayLike<number>;
  /** One key per row (user or visit): the bootstrap resamples them whole. */
  groups: ArrayLike<string>;
  logistic: ArrayLike<number>;
  singleFeature: ArrayLike<number>;
}

const signed = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(3)}`;
const aucFigures = (c: PairedComparison) => `AUC ${signed(c.auc.difference)}, 95 % CI ${signed(c.auc.lower)} to ${signed(c.auc.upper)}; log loss ${signed(c.logLoss.difference)}`;

/**
 * Applies the selection rule. `heldOut` holds the three models' probabilities on the rows the
 * network held out of fitting (its rivals fitted on the same fit rows); the network is compared
 * there. The logistic model and the single feature are compared on `outOfFold` when given (every
 * training row, each predicted by models that never saw its group: more evidence where examples
 * are few), else on `heldOut`. `bestEpoch` 0 means the network never left its logistic start, so
 * it cannot be chosen. `unit` names the groups in the reason ("users", "visits").
 */
export function selectServedModel(input: {
  heldOut: ComparedRows & { network: ArrayLike<number> };
  outOfFold?: ComparedRows;
  singleFeatureName: string;
  bestEpoch: number;
  unit: string;
  seed?: number;
}): ModelSelection {
  const { heldOut, outOfFold } = input;
  const bootstrap = (model: ArrayLike<number>, rival: ArrayLike<number>, rows: ComparedRows) =>
    pairedClassificationBootstrap(model, rival, rows.labels, { groups: rows.groups, resamples: 1000, seed: input.seed ?? 1 });
  const networkVsLogistic = bootstrap(heldOut.network, heldOut.logistic, heldOut);
  const networkVsSingleFeature = bootstrap(heldOut.network, heldOut.singleFeature, heldOut);
  const logisticRows = outOfFold ?? heldOut;
  const logisticVsSingleFeature = bootstrap(logisticRows.logistic, logisticRows.singleFeature, logisticRows);
  const logisticVsSingleFeatureOn = outOfFold ? ('out of fold' as const) : ('held-out rows' as const);
  const onHeldOut = `on ${networkVsLogistic.groups} held-out ${input.unit}`;
  const onLogisticRows = outOfFold ? `out of fold on ${logisticVsSingleFeature.groups} training ${input.unit}` : onHeldOut;
  const feature = `the single feature "${input.singleFeatureName}"`;
  const comparisons = { networkVsLogistic, networkVsSingleFeature, logisticVsSingleFeature, logisticVsSingleFeatureOn };
  if (input.bestEpoch > 0 && clearlyBeats(networkVsLogistic) && clearlyBeats(networkVsSingleFeature)) {
    return {
      servedModel: 'network',
      reason: `the network beats the logistic model (${aucFigures(networkVsLogistic)}) and ${feature} (${aucFigures(networkVsSingleFeature)}) ${onHeldOut}`,
      ...comparisons,
    };
  }
  const networkShort =
    input.bestEpoch === 0
      ? 'no epoch of the network beat its logistic start on held-out rows'
      : `the network does not clearly beat both rivals ${onHeldOut} (against the logistic model ${aucFigures(networkVsLogistic)}; against ${feature} ${aucFigures(networkVsSingleFeature)})`;
  if (clearlyBeats(logisticVsSingleFeature)) {
    return { servedModel: 'logistic', reason: `${networkShort}; the logistic model beats ${feature} (${aucFigures(logisticVsSingleFeature)}) ${onLogisticRows}`, ...comparisons };
  }
  return {
    servedModel: 'single-feature',
    reason: `${networkShort}; the logistic model does not clearly beat ${feature} (${aucFigures(logisticVsSingleFeature)}) ${onLogisticRows}, so that feature serves, calibrated by a one-feature logistic regression`,
    ...comparisons,
  };
}
