import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { float4Text } from '../db/float4';
import { userExamples, visitExamples, visitSplitMs, visitsBetween, type LabelledExamples } from './datasets';
import { evaluateUserPropensity, evaluateVisitPropensity, trainingCutoffs, userTrainingExamples, type PropensityEvaluation, type UserPropensityRange } from './evaluation';
import { SESSION_FEATURES, USER_FEATURES, type HandFeature } from './features';
import { singleFeatureLogistic } from './propensity-selection';
import type { EpochReport } from './tf-training';
import { loadTrainingHistories } from './event-history';
import { eventQuantileSplit } from '../ml/evaluation';
import { fitLogistic } from '../ml/logistic-regression';
import { encodePropensityArtifact } from './prediction-artifact';
import { predictPropensity, propensityModelFromLogistic, propensityState, trainPropensityModel, type PropensityModel, type PropensityTraining } from './propensity-model';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const PURCHASE_PROPENSITY_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  horizonHours: {
    type: 'int',
    min: 0,
    max: 24 * 90,
    default: 0,
    description:
      'a user counts as a buyer when they purchase within this many hours of the cutoff; 0 (the default) picks a week, at most a quarter of the range, in whole days (else hours) (see fittedHorizonHours)',
  },
  activeDays: { type: 'int', min: 1, max: 365, default: 30, description: 'users with an event in this many days before a cutoff are scored' },
  cutoffStepHours: { type: 'int', min: 1, max: 24 * 30, default: 24, description: 'training cutoffs for users lie this far apart, back from split − horizon (at most 4)' },
  units: { type: 'int', min: 2, max: 256, default: 16, description: 'GRU state size' },
  hiddenUnits: { type: 'int', min: 2, max: 256, default: 16, description: 'dense layer joining the sequence summary and the hand features' },
  window: { type: 'int', min: 2, max: 200, default: 8, description: 'most recent events the sequence input reads (the hand features summarise the whole history)' },
  epochs: { type: 'int', min: 1, max: 200, default: 2, description: 'passes over the examples (the best of them on held-out rows is kept); 2 by default: on the demo shop a third pass moved the held-out log loss by under 0.0001 and nearly doubled the time' },
  batchSize: {
    type: 'int',
    min: 0,
    max: 4096,
    default: 0,
    description: 'examples per minibatch; 0 (the default) sizes it to the examples: about 40 steps an epoch, 32 to 512 (autoBatchSize)',
  },
  learningRate: { type: 'number', min: 1e-6, max: 1, default: 0.002, description: 'Adam step size (training starts from the fitted logistic baseline)' },
  calibrationShare: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'share of examples (whole users or visits) held out of fitting: half for early stopping and Platt scaling, half for choosing the served model' },
  holdoutFraction: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'latest share of the visits (by start time) held out to evaluate the live-visit model' },
  refit: { type: 'boolean', default: true, description: 'after evaluating, train again up to the end of the range for the stored models' },
  seed: { type: 'int', min: 0, max: 2 ** 31 - 1, default: 42, description: 'random seed of initialisation and shuffling' },
} as const;

export type PurchasePropensityParams = ParamsOf<typeof PURCHASE_PROPENSITY_PARAMS>;

/** The horizon `horizonHours: 0` aims for: a week, the usual re-engagement cycle of a shop. */
const PREFERRED_HORIZON_HOURS = 168;

/**
 * The user model's horizon (hours) for a range of `rangeMs` milliseconds. The user model is
 * evaluated on the last horizon of the range (split = end − horizon) and learns from cutoffs a
 * horizon before the split, the first more than half a cutoff step after the range's start, so a
 * horizon H fits when 2·H + cutoffStep/2 < range. `requested` 0 takes a week, but at most a quarter
 * of the range, so that the latest training cutoff has at least half the range as history behind
 * it: with a longer horizon the training cutoffs sit near the start, where every user's history is
 * a day or two, and the model learns a regime the evaluated (and served) cutoff never sees. Whole
 * days when that is a day or more, else hours. A requested horizon that does not fit, or a range
 * too short for even one hour, is refused with a TrainingDataError that names the fix.
 */
export function fittedHorizonHours(requested: number, rangeMs: number, cutoffStepHours: number): number {
  const fits = (hours: number) => 2 * hours * HOUR + (cutoffStepHours * HOUR) / 2 < rangeMs;
  const longestHours = Math.max(0, Math.ceil((rangeMs - (cutoffStepHours * HOUR) / 2) / (2 * HOUR)) - 1);
  const rangeDays = (rangeMs / DAY).toFixed(1);
  if (requested > 0) {
    if (fits(requested)) return requested;
    throw new TrainingDataError(
      `params.horizonHours ${requested} does not fit the ${rangeDays} days of events in the range: the user model needs 2 × horizonHours + cutoffStepHours / 2 (${cutoffStepHours / 2}) hours of events. ` +
        (longestHours >= 1 ? `Pass horizonHours ≤ ${longestHours}, leave it out (0 picks one that fits) or widen the range.` : 'Widen the range or ingest more history.'),
    );
  }
  const target = Math.min(PREFERRED_HORIZON_HOURS, Math.floor(rangeMs / 4 / HOUR), longestHours);
  if (target >= 24) return Math.floor(target / 24) * 24;
  if (target >= 1) return target;
  throw new TrainingDataError(
    `The range holds ${rangeDays} days of events, too few for a purchase horizon of even one hour (it needs more than cutoffStepHours / 2 + 2 hours = ${cutoffStepHours / 2 + 2} hours, and a quarter of the range); widen the range, ingest more history or lower cutoffStepHours.`,
  );
}

/**
 * The served model of `evaluation` (network, logistic regression or single-feature rule) fitted
 * again on `examples` with the same settings (a network for as many epochs as were best before).
 */
async function refitServed(
  run: TrainingRun<PurchasePropensityParams>,
  evaluation: PropensityEvaluation,
  examples: LabelledExamples,
  names: readonly HandFeature[],
  training: Omit<PropensityTraining, 'featureCount'>,
  onEpoch: (report: EpochReport) => Promise<void>,
): Promise<PropensityModel> {
  const { features, labels } = examples.examples;
  const featureCount = names.length;
  const config = { units: training.units, hiddenUnits: training.hiddenUnits, window: training.window, featureCount, seed: training.seed };
  switch (evaluation.servedModel) {
    case 'network':
      // As many epochs as were best on the held-out rows (the network serves only when that is at
      // least one): more would only be thrown away again, and each costs a pass over the examples.
      return (await trainPropensityModel(run.tf, examples.examples, { ...training, epochs: Math.max(1, Math.min(training.epochs, evaluation.bestEpoch)), featureCount }, onEpoch, fitLogistic(features, featureCount, labels), examples.keys)).model;
    case 'logistic':
      return propensityModelFromLogistic(run.tf, config, fitLogistic(features, featureCount, labels));
    case 'single-feature': {
      const feature = names.findIndex((f) => f.name === evaluation.selection.bestSingleFeature.name);
      return propensityModelFromLogistic(run.tf, config, singleFeatureLogistic(features, featureCount, labels, feature));
    }
  }
}

async function train(run: TrainingRun<PurchasePropensityParams>): Promise<TrainedModel> {
  const { tf, params } = run;
  const started = performance.now();
  await run.progress(0.02, 'loading events');
  const { histories, eventCount, fromMs, toMs } = await loadTrainingHistories(run.events, run);
  if (eventCount < 2) throw new TrainingDataError('The range holds one event; purchase propensity needs a history and a horizon after it. Ingest more events or widen the range.');
  // The span the horizon must fit: twice the time from the median event to the end, which is the
  // range itself for steady traffic, and stays on the real traffic when a stray event lies months
  // before it (the range from the first event would then ask for a week before the shop opened).
  const times = new Float64Array(eventCount);
  let filled = 0;
  for (const history of histories) for (const event of history.events) times[filled++] = event.timestamp;
  const spanMs = Math.min(toMs - fromMs, 2 * (toMs - eventQuantileSplit(times, 0.5)));
  const horizonHours = fittedHorizonHours(params.horizonHours, spanMs, params.cutoffStepHours);
  const horizonMs = horizonHours * HOUR;
  const activeMs = params.activeDays * DAY;
  const userRange: UserPropensityRange = { fromMs, splitMs: toMs - horizonMs, horizonMs, activeMs, cutoffStepMs: params.cutoffStepHours * HOUR };
  const visitSplit = visitSplitMs(visitsBetween(histories, fromMs, toMs).visits, params.holdoutFraction, 'live-visit model');
  const training = {
    units: params.units,
    hiddenUnits: params.hiddenUnits,
    window: params.window,
    seed: params.seed,
    epochs: params.epochs,
    batchSize: params.batchSize,
    learningRate: params.learningRate,
    calibrationShare: params.calibrationShare,
  };
  const stage = (offset: number, share: number, label: string) => (r: { epoch: number; epochs: number; loss: number }) =>
    run.progress(offset + (share * r.epoch) / r.epochs, `${label}: epoch ${r.epoch}/${r.epochs}, loss ${r.loss.toFixed(4)}`);
  const share = params.refit ? 0.22 : 0.45;
  let users;
  let visits;
  try {
    users = await evaluateUserPropensity(tf, histories, userRange, training, stage(0.05, share, 'users before the split'));
    visits = await evaluateVisitPropensity(tf, histories, { fromMs, splitMs: visitSplit, toMs }, training, stage(0.05 + share, share, 'visits before the split'));
  } catch (error) {
    if (error instanceof RangeError) throw new TrainingDataError(`${error.message}; ingest more events, widen the range or shorten horizonHours.`);
    throw error;
  }
  let userModel: PropensityModel = users.model;
  let visitModel: PropensityModel = visits.model;
  if (params.refit) {
    // The same recipe with the cutoffs moved up to the end of the range, refitting the model the
    // evaluation chose: a network is trained again (it was kept only where it clearly beat its
    // rivals on held-out users); otherwise the logistic regression or the single-feature rule is
    // refitted on the whole range, without training a network it would throw away.
    const refitRange = { ...userRange, splitMs: toMs };
    const userTrain = userTrainingExamples(histories, trainingCutoffs(refitRange), refitRange, params.window);
    if (userTrain.examples.count >= 10) {
      userModel.network.dispose();
      userModel = await refitServed(run, users.evaluation, userTrain, USER_FEATURES, training, stage(0.5, 0.2, 'users, whole range'));
    }
    const visitTrain = visitExamples(histories, fromMs, toMs, params.window);
    visitModel.network.dispose();
    visitModel = await refitServed(run, visits.evaluation, visitTrain, SESSION_FEATURES, training, stage(0.7, 0.2, 'visits, whole range'));
  }
  await run.progress(0.92, 'scoring every active user');
  const now = userExamples(histories, toMs, horizonMs, activeMs, params.window);
  const scores = now.examples.count ? predictPropensity(tf, userModel, now.examples) : new Float64Array(0);
  const artifact = encodePropensityArtifact(
    { horizonHours, activeDays: params.activeDays },
    propensityState(userModel, 'user'),
    propensityState(visitModel, 'visit'),
  );
  userModel.network.dispose();
  visitModel.network.dispose();
  const scoredAt = new Date(toMs).toISOString();
  return {
    artifact,
    metrics: {
      evaluation: {
        users: users.evaluation,
        visits: visits.evaluation,
        servedModel: { users: users.evaluation.servedModel, visits: visits.evaluation.servedModel },
        beatsBaseline: users.evaluation.beatsBaseline && visits.evaluation.beatsBaseline,
      },
      training: { events: eventCount, horizonHours, userCutoffs: users.cutoffs.map((c) => new Date(c).toISOString()), scoredUsers: now.examples.count, totalSeconds: Math.round((performance.now() - started) / 10) / 100 },
    },
    eventCount,
    trainedFrom: new Date(fromMs),
    trainedTo: new Date(toMs),
    async writeScores(client, modelVersionId) {
      function* lines(): Generator<string> {
        for (let i = 0; i < scores.length; i++) yield `${modelVersionId}\t${now.keys[i]}\t${float4Text(scores[i], `purchase_propensity_scores.propensity (user ${now.keys[i]})`)}\t${scoredAt}\n`;
      }
      await pipeline(Readable.from(lines()), client.query(copyFrom('COPY purchase_propensity_scores (model_version_id, user_id, propensity, scored_at) FROM STDIN')));
      return scores.length;
    },
  };
}

export const purchasePropensity: ModelKindDefinition<PurchasePropensityParams> = {
  kind: ModelKind.PURCHASE_PROPENSITY,
  scoreTable: 'purchase_propensity_scores',
  userData: { scoresByUser: true },
  parseParams: (raw) => parseParams(ModelKind.PURCHASE_PROPENSITY, PURCHASE_PROPENSITY_PARAMS, raw),
  train,
};
