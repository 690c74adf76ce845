import type * as tfjs from '@tensorflow/tfjs';
import { auc, classificationMetrics, logLoss, pairedClassificationBootstrap, type PairedComparison, type PairedInterval } from '../ml/metrics';
import type { Tf } from '../ml/tf-backend';
import { brierScore, calibrationError, multiClassMetrics, reliabilityTable, type MultiClassMetrics, type ReliabilityBin } from './calibration';
import { markovSteps, userExamples, visitExamples, visitsBetween, type LabelledExamples, type UserHistory } from './datasets';
import { NEXT_ACTIONS } from './funnel-actions';
import { fitLogistic, predictLogisticRows, type LogisticModel } from '../ml/logistic-regression';
import { SESSION_FEATURES, USER_FEATURES, type HandFeature } from './features';
import { bestSingleFeature, outOfFoldPredictions, selectServedModel, singleFeatureLogistic, type ServedPropensityModel } from './propensity-selection';
import { fitMarkov, markovProbabilities, type MarkovModel } from './markov';
import { nextStepWindows, predictWindowSteps, trainNextStepModel, type NextStepTraining } from './next-step-model';
import { pickExamples, predictPropensity, propensityModelFromLogistic, propensitySplit, trainPropensityModel, type PropensityExamples, type PropensityModel, type PropensityTraining } from './propensity-model';
import type { EpochReport } from './tf-training';

/**
 * The time-based evaluation of both model kinds against their baselines: fit on what happened
 * before a split instant, score what happened after it. The model kinds, the quality report and the
 * tests all call these.
 */

const round = (value: number, digits = 5) => (Number.isFinite(value) ? Math.round(value * 10 ** digits) / 10 ** digits : value);

export interface NextStepEvaluation {
  splitAt: string;
  trainingVisits: number;
  heldOutVisits: number;
  heldOutSteps: number;
  model: MultiClassMetrics;
  markovBaseline: MultiClassMetrics;
  beatsBaseline: boolean;
}

function roundedMultiClass(m: MultiClassMetrics): MultiClassMetrics {
  return {
    ...m,
    accuracy: round(m.accuracy),
    top2Accuracy: round(m.top2Accuracy),
    logLoss: round(m.logLoss),
    recall: Object.fromEntries(Object.entries(m.recall).map(([k, v]) => [k, v === null ? null : round(v)])),
  };
}

export async function evaluateNextStep(
  tf: Tf,
  histories: readonly UserHistory[],
  range: { fromMs: number; splitMs: number; toMs: number },
  training: NextStepTraining,
  onEpoch?: (report: EpochReport) => Promise<void> | void,
): Promise<{ evaluation: NextStepEvaluation; model: tfjs.LayersModel; markov: MarkovModel }> {
  const before = visitsBetween(histories, range.fromMs, range.splitMs);
  const after = visitsBetween(histories, range.splitMs, range.toMs);
  if (before.visits.length === 0) throw new RangeError('no visits before the split to learn from');
  if (after.visits.length === 0) throw new RangeError('no visits after the split to evaluate on');
  const trainSteps = markovSteps(before.visits);
  const markov = fitMarkov(trainSteps.states, trainSteps.next);
  const { model } = await trainNextStepModel(tf, nextStepWindows(before.visits.map((v) => v.events), training.window), training, onEpoch);

  const heldOut = nextStepWindows(after.visits.map((v) => v.events), training.window);
  const predicted = predictWindowSteps(tf, model, heldOut);
  const testSteps = markovSteps(after.visits);
  const markovRows = new Float64Array(testSteps.states.length * NEXT_ACTIONS.length);
  testSteps.states.forEach((state, i) => markovRows.set(markovProbabilities(markov, state), i * NEXT_ACTIONS.length));
  const modelMetrics = multiClassMetrics(predicted.probabilities, predicted.labels);
  const baselineMetrics = multiClassMetrics(markovRows, testSteps.next);
  return {
    evaluation: {
      splitAt: new Date(range.splitMs).toISOString(),
      trainingVisits: before.visits.length,
      heldOutVisits: after.visits.length,
      heldOutSteps: predicted.labels.length,
      model: roundedMultiClass(modelMetrics),
      markovBaseline: roundedMultiClass(baselineMetrics),
      beatsBaseline: modelMetrics.logLoss < baselineMetrics.logLoss && modelMetrics.accuracy >= baselineMetrics.accuracy,
    },
    model,
    markov,
  };
}

export interface BinaryMetrics {
  count: number;
  positives: number;
  auc: number;
  logLoss: number;
  brier: number;
  calibrationError: number;
  /** At threshold 0.5. */
  accuracy: number;
  f1: number;
  /** At the training base rate as threshold (flags users likelier than average). */
  accuracyAtBaseRate: number;
  f1AtBaseRate: number;
  reliability: ReliabilityBin[];
}

export function binaryMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>, baseRate: number): BinaryMetrics {
  const atHalf = classificationMetrics(probabilities, labels, 0.5);
  const atBase = classificationMetrics(probabilities, labels, baseRate);
  const reliability = reliabilityTable(probabilities, labels, 10).map((row) => ({
    ...row,
    meanPredicted: round(row.meanPredicted),
    observedRate: round(row.observedRate),
    minPredicted: round(row.minPredicted),
    maxPredicted: round(row.maxPredicted),
  }));
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i];
  return {
    count: labels.length,
    positives,
    auc: round(auc(probabilities, labels)),
    logLoss: round(logLoss(probabilities, labels)),
    brier: round(brierScore(probabilities, labels)),
    calibrationError: round(calibrationError(reliabilityTable(probabilities, labels, 10))),
    accuracy: round(atHalf.accuracy),
    f1: round(atHalf.f1),
    accuracyAtBaseRate: round(atBase.accuracy),
    f1AtBaseRate: round(atBase.f1),
    reliability,
  };
}

/** AUC, log loss and Brier score of a rival scored only for comparison. */
export interface RivalMetrics {
  auc: number;
  logLoss: number;
  brier: number;
}

/**
 * The purchase-propensity models of one target on its held-out (test) examples: the model that
 * serves (`model`, named by `servedModel`, chosen on validation rows inside the training period, see
 * propensity-selection.ts), the network, the logistic regression, the best single feature, the
 * user's past purchases (one-feature logistic on "past purchases") and the training base rate,
 * with paired bootstrap intervals of the served model against each rival over held-out users (or
 * visits). Differences are served − rival: AUC above zero and log loss or Brier below zero favour
 * the served model.
 */
export interface PropensityEvaluation {
  target: 'user' | 'visit';
  splitAt: string;
  trainingExamples: number;
  /** Examples (of whole users or visits) the model selection compares on: held out of fitting and of the network's early stopping and Platt scaling. */
  validationExamples: number;
  /** Purchase rate of the fitted rows: the base-rate rival's constant prediction. */
  trainingBaseRate: number;
  /** The epoch whose weights were kept (lowest log loss on the held-out calibration rows, the half of the held-out rows the selection does not read); 0: the logistic start itself. */
  bestEpoch: number;
  servedModel: ServedPropensityModel;
  /** Why that model serves, with the validation figures. */
  reason: string;
  selection: {
    bestSingleFeature: { name: string; trainingAuc: number };
    networkVsLogistic: PairedComparison;
    networkVsSingleFeature: PairedComparison;
    logisticVsSingleFeature: PairedComparison;
    logisticVsSingleFeatureOn: 'held-out rows' | 'out of fold';
  };
  /** The served model on the held-out examples. */
  model: BinaryMetrics;
  network: BinaryMetrics;
  logisticBaseline: BinaryMetrics;
  singleFeatureBaseline: RivalMetrics & { feature: string };
  pastPurchasesBaseline: RivalMetrics;
  baseRateBaseline: RivalMetrics;
  /** Served − rival on the held-out examples, with bootstrap intervals. */
  versus: {
    pastPurchases: PairedComparison;
    baseRate: PairedComparison;
    singleFeature: PairedComparison;
    logistic: PairedComparison;
  };
  /** The served probabilities' Brier score against the base rate's on the held-out examples. */
  calibration: { brier: number; baseRateBrier: number; improvesOnBaseRate: boolean };
  /** The served model ranks better than past purchases (AUC interval above zero) and its Brier score beats the base rate's. */
  beatsBaseline: boolean;
}

function mergeExamples(parts: readonly LabelledExamples[]): LabelledExamples {
  const count = parts.reduce((sum, p) => sum + p.examples.count, 0);
  const seqWidth = parts.length && parts[0].examples.count ? parts[0].examples.sequences.length / parts[0].examples.count : 0;
  const featureWidth = parts.length && parts[0].examples.count ? parts[0].examples.features.length / parts[0].examples.count : 0;
  const sequences = new Float32Array(count * seqWidth);
  const features = new Float32Array(count * featureWidth);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const part of parts) {
    sequences.set(part.examples.sequences, at * seqWidth);
    features.set(part.examples.features, at * featureWidth);
    labels.set(part.examples.labels, at);
    at += part.examples.count;
  }
  return { examples: { count, sequences, features, labels }, keys: parts.flatMap((p) => p.keys), prefixLengths: parts.flatMap((p) => p.prefixLengths) };
}

export interface UserPropensityRange {
  /** First instant with data. */
  fromMs: number;
  /** Evaluation cutoff: features before it, labels in [split, split + horizon). */
  splitMs: number;
  horizonMs: number;
  activeMs: number;
  /** Training cutoffs: every `cutoffStepMs` back from split − horizon while history remains. */
  cutoffStepMs: number;
}

/** Training cutoffs for users: split − horizon, then every step earlier, keeping at least one step of history. */
export function trainingCutoffs(range: UserPropensityRange, maxCutoffs = 4): number[] {
  const cutoffs: number[] = [];
  for (let at = range.splitMs - range.horizonMs; at > range.fromMs + range.cutoffStepMs / 2 && cutoffs.length < maxCutoffs; at -= range.cutoffStepMs) cutoffs.push(at);
  return cutoffs;
}

export function userTrainingExamples(histories: readonly UserHistory[], cutoffs: readonly number[], range: UserPropensityRange, window: number): LabelledExamples {
  return mergeExamples(cutoffs.map((cutoff) => userExamples(histories, cutoff, range.horizonMs, range.activeMs, window)));
}

function featureRows(features: Float32Array, rows: ArrayLike<number>, width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  for (let n = 0; n < rows.length; n++) out.set(features.subarray(rows[n] * width, (rows[n] + 1) * width), n * width);
  return out;
}

const labelsOf = (labels: Uint8Array, rows: ArrayLike<number>) => Uint8Array.from({ length: rows.length }, (_, n) => labels[rows[n]]);

function roundedInterval(i: PairedInterval): PairedInterval {
  return { model: round(i.model), rival: round(i.rival), difference: round(i.difference), lower: round(i.lower), upper: round(i.upper) };
}

function roundedComparison(c: PairedComparison): PairedComparison {
  return { ...c, auc: roundedInterval(c.auc), logLoss: roundedInterval(c.logLoss), brier: roundedInterval(c.brier) };
}

function rivalMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>): RivalMetrics {
  return { auc: round(auc(probabilities, labels)), logLoss: round(logLoss(probabilities, labels)), brier: round(brierScore(probabilities, labels)) };
}

/** Up to this many training examples the logistic model and the single feature are compared out of fold (5 folds by user or visit). */
export const CROSS_VALIDATION_MAX_EXAMPLES = 20_000;

/** The hand feature the past-purchases rival reads. */
export const PAST_PURCHASES = 'past purchases';

/**
 * Trains the network and fits its rivals on `train`, selects the served model on the held-out rows
 * the network was not tuned on (whole users or visits, `propensitySplit`'s `selectionRows`: its
 * best epoch and Platt scaling read the other held-out half), and scores every model on `test`.
 * The logistic regression and the single-feature rules are fitted on the same fit rows as the
 * network, so the validation comparison is fair; the returned `model` is the served one.
 */
async function compareWithRivals(
  tf: Tf,
  target: 'user' | 'visit',
  splitMs: number,
  train: LabelledExamples,
  test: LabelledExamples,
  training: PropensityTraining,
  names: readonly HandFeature[],
  onEpoch?: (report: EpochReport) => Promise<void> | void,
): Promise<{ evaluation: PropensityEvaluation; model: PropensityModel; predictions: Float64Array }> {
  if (train.examples.count < 10) throw new RangeError(`too few ${target} examples before the split to learn from (${train.examples.count})`);
  if (test.examples.count === 0) throw new RangeError(`no ${target} examples after the split to evaluate on`);
  const width = training.featureCount;
  if (width !== names.length) throw new RangeError(`the examples hold ${width} features, the names ${names.length}`);
  const { fitRows, selectionRows } = propensitySplit(train.examples.count, training, train.keys);
  const fit = { features: featureRows(train.examples.features, fitRows, width), labels: labelsOf(train.examples.labels, fitRows) };
  const validation = { features: featureRows(train.examples.features, selectionRows, width), labels: labelsOf(train.examples.labels, selectionRows) };
  const logistic = fitLogistic(fit.features, width, fit.labels, { l2: 1 });
  const { model: network, bestEpoch } = await trainPropensityModel(tf, train.examples, training, onEpoch, logistic, train.keys);
  const single = bestSingleFeature(train.examples, fit, names);
  const pastPurchasesAt = names.findIndex((f) => f.name === PAST_PURCHASES);
  const pastPurchases = singleFeatureLogistic(fit.features, width, fit.labels, pastPurchasesAt);
  const baseRate = fit.labels.reduce((sum, y) => sum + y, 0) / fit.labels.length;

  const validationExamples = pickExamples(train.examples, selectionRows, training.window, width);
  // Few examples (users: one per user and cutoff) leave the held-out share with a handful of
  // buyers; there the logistic model and the single feature are compared out of fold over every
  // training user instead. Many (visits) make that five more fits of the largest model for no gain.
  const crossValidate = train.examples.count <= CROSS_VALIDATION_MAX_EXAMPLES;
  const outOfFold = (fitModel: (features: Float32Array, labels: Uint8Array) => LogisticModel) =>
    outOfFoldPredictions(train.examples.features, width, train.examples.labels, train.keys, fitModel, 5, training.seed);
  const selection = selectServedModel({
    heldOut: {
      labels: validation.labels,
      groups: Array.from(selectionRows, (r) => train.keys[r]),
      network: predictPropensity(tf, network, validationExamples),
      logistic: predictLogisticRows(logistic, validation.features),
      singleFeature: predictLogisticRows(single.model, validation.features),
    },
    outOfFold: crossValidate
      ? {
          labels: train.examples.labels,
          groups: train.keys,
          logistic: outOfFold((features, labels) => fitLogistic(features, width, labels, { l2: 1 })),
          singleFeature: outOfFold((features, labels) => singleFeatureLogistic(features, width, labels, single.feature)),
        }
      : undefined,
    singleFeatureName: single.name,
    bestEpoch,
    unit: target === 'user' ? 'users' : 'visits',
    seed: training.seed,
  });

  const labels = test.examples.labels;
  const byModel = {
    network: predictPropensity(tf, network, test.examples),
    logistic: predictLogisticRows(logistic, test.examples.features),
    'single-feature': predictLogisticRows(single.model, test.examples.features),
  };
  const served = byModel[selection.servedModel];
  const pastPurchasesScores = predictLogisticRows(pastPurchases, test.examples.features);
  const baseRateScores = new Float64Array(test.examples.count).fill(baseRate);
  const versus = (rival: ArrayLike<number>) => roundedComparison(pairedClassificationBootstrap(served, rival, labels, { groups: test.keys, seed: training.seed }));
  const config = network.config;
  let model = network;
  if (selection.servedModel !== 'network') {
    network.network.dispose();
    model = propensityModelFromLogistic(tf, config, selection.servedModel === 'logistic' ? logistic : single.model);
  }
  const servedMetrics = binaryMetrics(served, labels, baseRate);
  const baseRateMetrics = rivalMetrics(baseRateScores, labels);
  const vsPastPurchases = versus(pastPurchasesScores);
  const evaluation: PropensityEvaluation = {
    target,
    splitAt: new Date(splitMs).toISOString(),
    trainingExamples: train.examples.count,
    validationExamples: selectionRows.length,
    trainingBaseRate: round(baseRate),
    bestEpoch,
    servedModel: selection.servedModel,
    reason: selection.reason,
    selection: {
      bestSingleFeature: { name: single.name, trainingAuc: round(single.trainingAuc) },
      networkVsLogistic: roundedComparison(selection.networkVsLogistic),
      networkVsSingleFeature: roundedComparison(selection.networkVsSingleFeature),
      logisticVsSingleFeature: roundedComparison(selection.logisticVsSingleFeature),
      logisticVsSingleFeatureOn: selection.logisticVsSingleFeatureOn,
    },
    model: servedMetrics,
    network: binaryMetrics(byModel.network, labels, baseRate),
    logisticBaseline: binaryMetrics(byModel.logistic, labels, baseRate),
    singleFeatureBaseline: { feature: single.name, ...rivalMetrics(byModel['single-feature'], labels) },
    pastPurchasesBaseline: rivalMetrics(pastPurchasesScores, labels),
    baseRateBaseline: baseRateMetrics,
    versus: {
      pastPurchases: vsPastPurchases,
      baseRate: versus(baseRateScores),
      singleFeature: versus(byModel['single-feature']),
      logistic: versus(byModel.logistic),
    },
    calibration: { brier: servedMetrics.brier, baseRateBrier: baseRateMetrics.brier, improvesOnBaseRate: servedMetrics.brier < baseRateMetrics.brier },
    beatsBaseline: vsPastPurchases.modelBetter.auc && servedMetrics.brier < baseRateMetrics.brier,
  };
  return { evaluation, model, predictions: served };
}

export async function evaluateUserPropensity(
  tf: Tf,
  histories: readonly UserHistory[],
  range: UserPropensityRange,
  training: Omit<PropensityTraining, 'featureCount'>,
  onEpoch?: (report: EpochReport) => Promise<void> | void,
) {
  const cutoffs = trainingCutoffs(range);
  if (cutoffs.length === 0) throw new RangeError('the range is too short for one training cutoff before the split: widen it or shorten the horizon');
  const train = userTrainingExamples(histories, cutoffs, range, training.window);
  const test = userExamples(histories, range.splitMs, range.horizonMs, range.activeMs, training.window);
  const featureCount = train.examples.count ? train.examples.features.length / train.examples.count : 0;
  const result = await compareWithRivals(tf, 'user', range.splitMs, train, test, { ...training, featureCount }, USER_FEATURES, onEpoch);
  return { ...result, test, cutoffs };
}

export async function evaluateVisitPropensity(
  tf: Tf,
  histories: readonly UserHistory[],
  range: { fromMs: number; splitMs: number; toMs: number },
  training: Omit<PropensityTraining, 'featureCount'>,
  onEpoch?: (report: EpochReport) => Promise<void> | void,
) {
  const train = visitExamples(histories, range.fromMs, range.splitMs, training.window);
  const test = visitExamples(histories, range.splitMs, range.toMs, training.window);
  const featureCount = train.examples.count ? train.examples.features.length / train.examples.count : 0;
  const result = await compareWithRivals(tf, 'visit', range.splitMs, train, test, { ...training, featureCount }, SESSION_FEATURES, onEpoch);
  return { ...result, test };
}

export function roundMetric(value: number, digits = 5): number {
  return round(value, digits);
}

export type { PropensityExamples };
