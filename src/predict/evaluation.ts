import type * as tfjs from '@tensorflow/tfjs';
import { auc, classificationMetrics, logLoss } from '../ml/metrics';
import type { Tf } from '../ml/tf-backend';
import { brierScore, calibrationError, multiClassMetrics, reliabilityTable, type MultiClassMetrics, type ReliabilityBin } from './calibration';
import { markovSteps, userExamples, visitExamples, visitsBetween, type LabelledExamples, type UserHistory } from './datasets';
import { NEXT_ACTIONS } from './funnel-actions';
import { fitLogistic, predictLogisticRows, type LogisticModel } from '../ml/logistic-regression';
import { fitMarkov, markovProbabilities, type MarkovModel } from './markov';
import { nextStepWindows, predictWindowSteps, trainNextStepModel, type NextStepTraining } from './next-step-model';
import { predictPropensity, trainPropensityModel, type PropensityExamples, type PropensityModel, type PropensityTraining } from './propensity-model';
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

export interface PropensityEvaluation {
  target: 'user' | 'visit';
  splitAt: string;
  trainingExamples: number;
  trainingBaseRate: number;
  /** The epoch whose weights were kept (lowest log loss on the held-out calibration rows); 0: the logistic start itself. */
  bestEpoch: number;
  model: BinaryMetrics;
  logisticBaseline: BinaryMetrics;
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

async function compareWithLogistic(
  tf: Tf,
  target: 'user' | 'visit',
  splitMs: number,
  train: LabelledExamples,
  test: LabelledExamples,
  training: PropensityTraining,
  onEpoch?: (report: EpochReport) => Promise<void> | void,
): Promise<{ evaluation: PropensityEvaluation; model: PropensityModel; logistic: LogisticModel; predictions: Float64Array }> {
  if (train.examples.count < 10) throw new RangeError(`too few ${target} examples before the split to learn from (${train.examples.count})`);
  if (test.examples.count === 0) throw new RangeError(`no ${target} examples after the split to evaluate on`);
  const featureCount = training.featureCount;
  const logistic = fitLogistic(train.examples.features, featureCount, train.examples.labels, { l2: 1 });
  const { model, bestEpoch } = await trainPropensityModel(tf, train.examples, training, onEpoch, logistic, train.keys);
  const predictions = predictPropensity(tf, model, test.examples);
  const baseline = predictLogisticRows(logistic, test.examples.features);
  const baseRate = train.examples.labels.reduce((sum, y) => sum + y, 0) / train.examples.count;
  const modelMetrics = binaryMetrics(predictions, test.examples.labels, baseRate);
  const baselineMetrics = binaryMetrics(baseline, test.examples.labels, baseRate);
  return {
    evaluation: {
      target,
      splitAt: new Date(splitMs).toISOString(),
      trainingExamples: train.examples.count,
      trainingBaseRate: round(baseRate),
      bestEpoch,
      model: modelMetrics,
      logisticBaseline: baselineMetrics,
      beatsBaseline: modelMetrics.logLoss < baselineMetrics.logLoss,
    },
    model,
    logistic,
    predictions,
  };
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
  const result = await compareWithLogistic(tf, 'user', range.splitMs, train, test, { ...training, featureCount }, onEpoch);
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
  const result = await compareWithLogistic(tf, 'visit', range.splitMs, train, test, { ...training, featureCount }, onEpoch);
  return { ...result, test };
}

export function roundMetric(value: number, digits = 5): number {
  return round(value, digits);
}

export type { PropensityExamples };
