import { auc, pairedBootstrap, type PairedComparison } from '../ml/metrics';
import { fitLogistic, standardiser, type LogisticModel } from '../ml/logistic-regression';
import type { HandFeature } from './features';

/**
 * Which purchase-propensity model serves: the network only when it clearly beats both the logistic
 * regression and the best single hand feature on the held-out (validation) users or visits, else
 * the logistic regression when it clearly beats that feature, else the feature itself as a
 * calibrated one-feature rule. "Clearly" is a paired bootstrap interval (`pairedBootstrap`, over
 * users or visits, 1000 resamples, seeded) of the AUC difference above zero with a log loss no
 * worse. Nothing here reads the test period: the kind evaluates the chosen model there afterwards.
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
  /** Its AUC on the validation rows, oriented by the fit rows (the direction its one-feature fit took). */
  validationAuc: number;
  /** Fitted on the fit rows. */
  model: LogisticModel;
}

/**
 * The single hand feature that ranks the validation rows best: each feature is oriented on the fit
 * rows (its one-feature logistic regression's sign) and scored by AUC on the validation rows; the
 * highest wins (ties: the earlier feature). Its one-feature regression on the fit rows is the rule.
 */
export function bestSingleFeature(
  fit: { features: ArrayLike<number>; labels: ArrayLike<number> },
  validation: { features: ArrayLike<number>; labels: ArrayLike<number> },
  names: readonly HandFeature[],
): SingleFeatureChoice {
  const width = names.length;
  let best: { feature: number; validationAuc: number; model: LogisticModel } | null = null;
  for (let j = 0; j < width; j++) {
    const model = singleFeatureLogistic(fit.features, width, fit.labels, j);
    const sign = Math.sign(model.weights[j + 1]);
    const values = featureColumn(validation.features, width, j);
    const oriented = sign === 0 ? values.fill(0) : values.map((v) => sign * v);
    const score = auc(oriented, validation.labels);
    const validationAuc = Number.isNaN(score) ? 0.5 : score;
    if (!best || validationAuc > best.validationAuc) best = { feature: j, validationAuc, model };
  }
  if (!best) throw new RangeError('no hand features to choose from');
  return { ...best, name: names[best.feature].name };
}

/** Clearly better: the AUC interval lies above zero and the log loss is no worse. */
export function clearlyBeats(comparison: PairedComparison): boolean {
  return comparison.modelBetter.auc && comparison.logLoss.difference <= 0;
}

export interface ModelSelection {
  servedModel: ServedPropensityModel;
  /** Why, in a sentence with the figures it rests on. */
  reason: string;
  /** The three paired comparisons on the validation rows (differences are the first named − the second). */
  networkVsLogistic: PairedComparison;
  networkVsSingleFeature: PairedComparison;
  logisticVsSingleFeature: PairedComparison;
}

const signed = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(3)}`;
const aucFigures = (c: PairedComparison) => `AUC ${signed(c.auc.difference)}, 95 % CI ${signed(c.auc.lower)} to ${signed(c.auc.upper)}; log loss ${signed(c.logLoss.difference)}`;

/**
 * Applies the selection rule to the three models' probabilities on the same validation rows.
 * `bestEpoch` 0 means the network never left its logistic start, so it cannot be chosen. `unit`
 * names the groups in the reason ("users", "visits").
 */
export function selectServedModel(input: {
  labels: ArrayLike<number>;
  /** One key per row (user or visit): the bootstrap resamples them whole. */
  groups: ArrayLike<string>;
  network: ArrayLike<number>;
  logistic: ArrayLike<number>;
  singleFeature: ArrayLike<number>;
  singleFeatureName: string;
  bestEpoch: number;
  unit: string;
  seed?: number;
}): ModelSelection {
  const options = { groups: input.groups, resamples: 1000, seed: input.seed ?? 1 };
  const networkVsLogistic = pairedBootstrap(input.network, input.logistic, input.labels, options);
  const networkVsSingleFeature = pairedBootstrap(input.network, input.singleFeature, input.labels, options);
  const logisticVsSingleFeature = pairedBootstrap(input.logistic, input.singleFeature, input.labels, options);
  const on = `on ${networkVsLogistic.groups} validation ${input.unit}`;
  const feature = `the single feature "${input.singleFeatureName}"`;
  const comparisons = { networkVsLogistic, networkVsSingleFeature, logisticVsSingleFeature };
  if (input.bestEpoch > 0 && clearlyBeats(networkVsLogistic) && clearlyBeats(networkVsSingleFeature)) {
    return {
      servedModel: 'network',
      reason: `the network beats the logistic model (${aucFigures(networkVsLogistic)}) and ${feature} (${aucFigures(networkVsSingleFeature)}) ${on}`,
      ...comparisons,
    };
  }
  const networkShort =
    input.bestEpoch === 0
      ? 'no epoch of the network beat its logistic start on held-out rows'
      : `the network does not clearly beat both rivals (against the logistic model ${aucFigures(networkVsLogistic)}; against ${feature} ${aucFigures(networkVsSingleFeature)})`;
  if (clearlyBeats(logisticVsSingleFeature)) {
    return { servedModel: 'logistic', reason: `${networkShort}; the logistic model beats ${feature} (${aucFigures(logisticVsSingleFeature)}) ${on}`, ...comparisons };
  }
  return {
    servedModel: 'single-feature',
    reason: `${networkShort}; the logistic model does not clearly beat ${feature} (${aucFigures(logisticVsSingleFeature)}) ${on}, so that feature serves, calibrated by a one-feature logistic regression`,
    ...comparisons,
  };
}
