import { balancedClassWeights, fitLogistic, predictLogistic, type LogisticModel } from '../ml/logistic-regression';
import { threeSigmaProbability } from './ensemble';
import { explainFeatures, type FeatureFinding } from './explain';
import { FEATURE_COUNT } from './features';
import { fitIsolationForest, isolationScore, type IsolationForestModel, type RandomSource } from './isolation-forest';
import { fitFeatureScales, statisticalScore, tailScale, suspiciousZ, transformFeature, type RobustScale } from './robust-z';

/**
 * The three detectors as fitted models over a table of feature rows (FEATURE_COUNT each; in
 * training, one row per user-day).
 * Fitting and scoring are separate so a model fitted on one window can score another; the
 * artifacts are plain JSON.
 */
export interface FeatureRows {
  features: Float32Array | Float64Array;
  rows: number;
}

export interface StatisticalModel {
  /** Per feature, median and robust sigma of the transformed values. */
  scales: RobustScale[];
}

export function fitStatistical(table: FeatureRows): StatisticalModel {
  return { scales: fitFeatureScales(table.features, table.rows) };
}

/** Statistical scores in [0, 1) for every row. */
export function scoreStatistical(model: StatisticalModel, table: FeatureRows): Float64Array {
  const scores = new Float64Array(table.rows);
  const z = new Float64Array(FEATURE_COUNT);
  for (let r = 0; r < table.rows; r++) scores[r] = statisticalScore(suspiciousZ(table.features, r * FEATURE_COUNT, model.scales, z));
  return scores;
}

/** The features of one row that broke the 3-sigma rule, in plain words (naming `day` when given). */
export function findingsFor(model: StatisticalModel, table: FeatureRows, row: number, limit = 3, day?: string): FeatureFinding[] {
  const z = suspiciousZ(table.features, row * FEATURE_COUNT, model.scales, new Float64Array(FEATURE_COUNT));
  return explainFeatures(table.features, row * FEATURE_COUNT, z, model.scales, limit, day);
}

export interface IsolationModel {
  forest: IsolationForestModel;
  /** Transformed-feature medians that stand in for missing values. */
  fill: number[];
  /** Robust scale of the raw forest scores over the training population, for calibration. */
  population: RobustScale;
}

export interface IsolationParams {
  trees: number;
  sampleSize: number;
}

/** Transformed features with missing values replaced by the training median (a forest needs finite values). */
function forestInputs(table: FeatureRows, fill: readonly number[]): Float64Array {
  const out = new Float64Array(table.rows * FEATURE_COUNT);
  for (let r = 0; r < table.rows; r++) {
    for (let f = 0; f < FEATURE_COUNT; f++) {
      const value = transformFeature(f, table.features[r * FEATURE_COUNT + f]);
      out[r * FEATURE_COUNT + f] = Number.isFinite(value) ? value : fill[f];
    }
  }
  return out;
}

function rawForestScores(forest: IsolationForestModel, inputs: Float64Array, rows: number): Float64Array {
  const scores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) scores[r] = isolationScore(forest, inputs, r * FEATURE_COUNT);
  return scores;
}

export function fitIsolation(table: FeatureRows, params: IsolationParams, random: RandomSource): IsolationModel {
  const fill = fitFeatureScales(table.features, table.rows).map((scale) => (Number.isFinite(scale.median) ? scale.median : 0));
  const inputs = forestInputs(table, fill);
  const forest = fitIsolationForest(inputs, table.rows, FEATURE_COUNT, random, params);
  return { forest, fill, population: tailScale(rawForestScores(forest, inputs, table.rows), 'high') };
}

/** Calibrated isolation scores in (0, 1): 0.5 at three robust sigmas above the population's typical forest score. */
export function scoreIsolation(model: IsolationModel, table: FeatureRows): Float64Array {
  const raw = rawForestScores(model.forest, forestInputs(table, model.fill), table.rows);
  return raw.map((value) => threeSigmaProbability(value, model.population));
}

/** z-scores are clipped so one absurd value cannot dominate the regression. */
const Z_CLIP = 10;
export const SUPERVISED_DIMENSIONS = FEATURE_COUNT + 2;

/** The regression's inputs per row: each feature's suspicious z (clipped to ±10), then the two unsupervised scores. */
export function supervisedInputs(statistical: StatisticalModel, table: FeatureRows, statisticalScores: ArrayLike<number>, isolationScores: ArrayLike<number>): Float32Array {
  const out = new Float32Array(table.rows * SUPERVISED_DIMENSIONS);
  const z = new Float64Array(FEATURE_COUNT);
  for (let r = 0; r < table.rows; r++) {
    suspiciousZ(table.features, r * FEATURE_COUNT, statistical.scales, z);
    const base = r * SUPERVISED_DIMENSIONS;
    for (let f = 0; f < FEATURE_COUNT; f++) out[base + f] = Math.max(-Z_CLIP, Math.min(Z_CLIP, z[f]));
    out[base + FEATURE_COUNT] = statisticalScores[r];
    out[base + FEATURE_COUNT + 1] = isolationScores[r];
  }
  return out;
}

export interface SupervisedOptions {
  /** λ of the L2 penalty on the standardised input weights (see `fitLogistic`). */
  l2: number;
  /** Weigh each class by n / (2·n_class) (`balancedClassWeights`): labelled bots are few. */
  balanceClasses: boolean;
}

export const SUPERVISED_DEFAULTS: SupervisedOptions = { l2: 1, balanceClasses: true };

export interface SupervisedModel {
  regression: LogisticModel;
  labelled: { positives: number; negatives: number };
}

/**
 * Fits the regression (Newton/IRLS, `src/ml/logistic-regression.ts`) on the labelled rows of
 * `inputs` (rows × SUPERVISED_DIMENSIONS, from `supervisedInputs`); `labels[r]` is 1, 0, or −1 for
 * unlabelled. Deterministic: the same rows and labels give the same model.
 */
export function fitSupervised(inputs: Float32Array, labels: ArrayLike<number>, options: SupervisedOptions = SUPERVISED_DEFAULTS): SupervisedModel {
  const chosen: number[] = [];
  const y: number[] = [];
  let positives = 0;
  for (let r = 0; r < labels.length; r++) {
    if (labels[r] !== 0 && labels[r] !== 1) continue;
    for (let d = 0; d < SUPERVISED_DIMENSIONS; d++) chosen.push(inputs[r * SUPERVISED_DIMENSIONS + d]);
    y.push(labels[r]);
    positives += labels[r];
  }
  const regression = fitLogistic(chosen, SUPERVISED_DIMENSIONS, y, { l2: options.l2, rowWeights: options.balanceClasses ? balancedClassWeights(y) : undefined });
  return { regression, labelled: { positives, negatives: y.length - positives } };
}

/** P(anomalous) for each of the `rows` rows of `inputs`. */
export function scoreSupervised(model: SupervisedModel, inputs: Float32Array, rows: number): Float64Array {
  const scores = new Float64Array(rows);
  for (let r = 0; r < rows; r++) scores[r] = predictLogistic(model.regression, inputs, r * SUPERVISED_DIMENSIONS);
  return scores;
}
