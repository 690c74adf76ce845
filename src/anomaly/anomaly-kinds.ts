import type { DataSource } from 'typeorm';
import { encodeArtifact } from '../ml/artifact';
import { auc, classificationMetrics } from '../ml/metrics';
import { Rng } from '../ml/random';
import { ModelKind, type ModelKindDefinition, type TrainedModel, type TrainingRun } from '../training/model-kind';
import { parseParams, type ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';
import { copyAnomalyScores } from './anomaly-scores';
import {
  findingsFor,
  fitIsolation,
  fitStatistical,
  fitSupervised,
  scoreIsolation,
  scoreStatistical,
  scoreSupervised,
  SUPERVISED_DEFAULTS,
  supervisedInputs,
  type IsolationModel,
  type StatisticalModel,
  type SupervisedModel,
} from './detectors';
import type { UserFeatureTable } from './feature-extraction';
import { FEATURE_NAMES, isoDay } from './features';
import { dayLabels, worstDays } from './user-days';
import { medianOnOwnScale } from './explain';

/**
 * The three anomaly detectors as model kinds of the training platform. Each training run
 * extracts the behaviour features of every (user, UTC day) with events in the run's range, fits
 * its detector on those user-days, and stores one score per user-day in anomaly_scores; the API
 * combines the active versions' scores per user-day into the ensemble and judges a user by their
 * worst day. Each row also carries the features that broke the 3-sigma rule, in plain words.
 */

/** Admin labels count as positives when BOT or FRAUD. */
const POSITIVE_LABELS = ['BOT', 'FRAUD'];
/** Scores at or above this are "flagged" in the stored evaluation (the API's threshold is configurable). */
const EVALUATION_THRESHOLD = 0.5;
const MIN_USERS = 10;

const FOREST_PARAMS = {
  trees: { type: 'int', min: 1, max: 1000, default: 100, description: 'isolation trees' },
  sampleSize: { type: 'int', min: 2, max: 65536, default: 256, description: 'users sampled (without replacement) per tree' },
  seed: { type: 'int', min: 0, max: 2 ** 31 - 1, default: 42, description: 'random seed of the subsamples and cuts' },
} as const;

export const STATISTICAL_PARAMS = {} as const;
export const ISOLATION_FOREST_PARAMS = FOREST_PARAMS;
export const SUPERVISED_PARAMS = {
  ...FOREST_PARAMS,
  minLabels: { type: 'int', min: 2, max: 1_000_000, default: 20, description: 'labelled users needed before the regression trains' },
  minPerClass: { type: 'int', min: 1, max: 1_000_000, default: 5, description: 'labelled users needed in each class (BOT/FRAUD and GENUINE)' },
  l2: {
    type: 'number',
    min: 0,
    max: 1000,
    default: SUPERVISED_DEFAULTS.l2,
    description: 'L2 penalty λ on the standardised input weights (Newton/IRLS minimises the weighted log loss summed over labelled user-days + λ/2·‖w‖²)',
  },
  balanceClasses: {
    type: 'boolean',
    default: SUPERVISED_DEFAULTS.balanceClasses,
    description: 'weigh each class by n / (2·n_class) so the few BOT/FRAUD days count as much as the GENUINE ones',
  },
} as const;

type StatisticalParams = ParamsOf<typeof STATISTICAL_PARAMS>;
type IsolationParams = ParamsOf<typeof ISOLATION_FOREST_PARAMS>;
type SupervisedParams = ParamsOf<typeof SUPERVISED_PARAMS>;

async function extract(run: TrainingRun<unknown>): Promise<UserFeatureTable> {
  await run.progress(0.02, 'extracting behaviour features');
  const table = await run.events.userFeatures({ from: run.from, to: run.to });
  if (table.users < MIN_USERS) {
    throw new TrainingDataError(
      `Only ${table.users} users have events between ${run.from?.toISOString() ?? 'the beginning'} and ${run.to.toISOString()}; anomaly detectors need at least ${MIN_USERS}. Ingest more events or widen the range.`,
    );
  }
  await run.progress(0.4, `features of ${table.rows} user-days (${table.users} users) from ${table.events} events`);
  return table;
}

/** Current admin labels by dense user id: 1 for BOT/FRAUD, 0 for GENUINE. */
export async function loadLabels(dataSource: DataSource): Promise<Map<number, number>> {
  const rows: { user_id: number; label: string }[] = await dataSource.query(`SELECT user_id, label FROM user_labels`);
  return new Map(rows.map((row) => [row.user_id, POSITIVE_LABELS.includes(row.label) ? 1 : 0]));
}

const round = (value: number) => (Number.isFinite(value) ? Math.round(value * 1e5) / 1e5 : null);

/** How the users' worst-day scores fare against the admin labels, and how many users and days they flag. */
function evaluation(scores: Float64Array, table: UserFeatureTable, labels: Map<number, number>, note?: string) {
  const worst = worstDays(table, scores);
  const s: number[] = [];
  const y: number[] = [];
  for (let u = 0; u < worst.userIds.length; u++) {
    const label = labels.get(worst.userIds[u]);
    if (label === undefined) continue;
    s.push(worst.scores[u]);
    y.push(label);
  }
  let flagged = 0;
  for (const score of worst.scores) if (score >= EVALUATION_THRESHOLD) flagged++;
  let flaggedDays = 0;
  for (const score of scores) if (score >= EVALUATION_THRESHOLD) flaggedDays++;
  const metrics = classificationMetrics(s, y, EVALUATION_THRESHOLD);
  return {
    threshold: EVALUATION_THRESHOLD,
    users: table.users,
    userDays: table.rows,
    flaggedUsers: flagged,
    flaggedShare: round(flagged / table.users),
    flaggedUserDays: flaggedDays,
    againstLabels: {
      labelledUsers: y.length,
      positives: y.filter((v) => v === 1).length,
      precision: round(metrics.precision),
      recall: round(metrics.recall),
      f1: round(metrics.f1),
      auc: round(auc(s, y)),
      ...(note ? { note } : {}),
    },
  };
}

function featureMedians(statistical: StatisticalModel): Record<string, number | null> {
  return Object.fromEntries(FEATURE_NAMES.map((name, f) => [name, round(medianOnOwnScale(f, statistical.scales[f]))]));
}

function trained(
  table: UserFeatureTable,
  run: TrainingRun<unknown>,
  scores: Float64Array,
  statistical: StatisticalModel,
  header: Record<string, unknown>,
  metrics: Record<string, unknown>,
): TrainedModel {
  return {
    artifact: encodeArtifact({ header, tensors: [] }),
    metrics: { ...metrics, featureMedians: featureMedians(statistical), events: table.events },
    eventCount: table.events,
    trainedFrom: run.from ?? new Date(table.firstEventMs.reduce((a, b) => Math.min(a, b), Infinity)),
    trainedTo: run.to,
    writeScores: (client, modelVersionId) =>
      copyAnomalyScores(
        client,
        modelVersionId,
        (function* () {
          for (let r = 0; r < table.rows; r++) {
            const day = table.days[r];
            yield { userId: table.userIds[r], day, score: scores[r], firstEventMs: table.firstEventMs[r], lastEventMs: table.lastEventMs[r], findings: findingsFor(statistical, table, r, 3, isoDay(day)) };
          }
        })(),
      ),
  };
}

async function trainStatistical(run: TrainingRun<StatisticalParams>): Promise<TrainedModel> {
  const table = await extract(run);
  const statistical = fitStatistical(table);
  const scores = scoreStatistical(statistical, table);
  await run.progress(0.8, 'scored every user-day');
  return trained(table, run, scores, statistical, { format: 'anomaly-statistical-v1', statistical }, { evaluation: evaluation(scores, table, await loadLabels(run.dataSource)) });
}

async function trainIsolation(run: TrainingRun<IsolationParams>): Promise<TrainedModel> {
  const table = await extract(run);
  const statistical = fitStatistical(table);
  const isolation: IsolationModel = fitIsolation(table, run.params, Rng.stream(run.params.seed));
  await run.progress(0.7, `grew ${run.params.trees} trees`);
  const scores = scoreIsolation(isolation, table);
  return trained(table, run, scores, statistical, { format: 'anomaly-isolation-forest-v1', statistical, isolation }, { evaluation: evaluation(scores, table, await loadLabels(run.dataSource)) });
}

async function trainSupervised(run: TrainingRun<SupervisedParams>): Promise<TrainedModel> {
  const params = run.params;
  const labelsByUser = await loadLabels(run.dataSource);
  const table = await extract(run);
  let positives = 0;
  let negatives = 0;
  for (const userId of worstDays(table, new Float64Array(table.rows)).userIds) {
    const label = labelsByUser.get(userId);
    if (label === 1) positives++;
    else if (label === 0) negatives++;
  }
  if (positives + negatives < params.minLabels || positives < params.minPerClass || negatives < params.minPerClass) {
    throw new TrainingDataError(
      `ANOMALY_SUPERVISED needs at least ${params.minLabels} labelled users active in the range, with at least ${params.minPerClass} BOT or FRAUD and ${params.minPerClass} GENUINE; ` +
        `there are ${positives} BOT/FRAUD and ${negatives} GENUINE. Label more users with labelUser, or lower params.minLabels / params.minPerClass.`,
    );
  }
  const statistical = fitStatistical(table);
  const statisticalScores = scoreStatistical(statistical, table);
  const isolation = fitIsolation(table, params, Rng.stream(params.seed));
  const isolationScores = scoreIsolation(isolation, table);
  await run.progress(0.6, 'unsupervised scores ready; fitting the regression on the labels');
  const inputs = supervisedInputs(statistical, table, statisticalScores, isolationScores);
  const unsupervised = statisticalScores.map((score, r) => (score + isolationScores[r]) / 2);
  const labels = dayLabels(table, labelsByUser, unsupervised);
  const supervised: SupervisedModel = fitSupervised(inputs, labels, { l2: params.l2, balanceClasses: params.balanceClasses });
  const scores = scoreSupervised(supervised, inputs, table.rows);
  return trained(
    table,
    run,
    scores,
    statistical,
    { format: 'anomaly-supervised-v2', statistical, isolation, supervised, inputs: [...FEATURE_NAMES.map((n) => `z:${n}`), 'STATISTICAL', 'ISOLATION_FOREST'] },
    {
      evaluation: evaluation(scores, table, labelsByUser, 'measured on the labels the regression was trained on (in-sample)'),
      labelled: { positives, negatives },
      labelledDays: supervised.labelled,
      // Weights of the standardised inputs (per standard deviation), so they compare with each other.
      weights: Object.fromEntries([...FEATURE_NAMES.map((n) => `z:${n}`), 'STATISTICAL', 'ISOLATION_FOREST'].map((name, d) => [name, round(supervised.regression.weights[d + 1])])),
    },
  );
}

export const anomalyStatistical: ModelKindDefinition<StatisticalParams> = {
  kind: ModelKind.ANOMALY_STATISTICAL,
  scoreTable: 'anomaly_scores',
  userData: { scoresByUser: true },
  parseParams: (raw) => parseParams(ModelKind.ANOMALY_STATISTICAL, STATISTICAL_PARAMS, raw),
  train: trainStatistical,
};

export const anomalyIsolationForest: ModelKindDefinition<IsolationParams> = {
  kind: ModelKind.ANOMALY_ISOLATION_FOREST,
  scoreTable: 'anomaly_scores',
  userData: { scoresByUser: true },
  parseParams: (raw) => parseParams(ModelKind.ANOMALY_ISOLATION_FOREST, ISOLATION_FOREST_PARAMS, raw),
  train: trainIsolation,
};

export const anomalySupervised: ModelKindDefinition<SupervisedParams> = {
  kind: ModelKind.ANOMALY_SUPERVISED,
  scoreTable: 'anomaly_scores',
  userData: { scoresByUser: true },
  parseParams: (raw) => parseParams(ModelKind.ANOMALY_SUPERVISED, SUPERVISED_PARAMS, raw),
  train: trainSupervised,
  async unreadyReason(dataSource, params) {
    const [{ labelled }] = await dataSource.query(`SELECT count(*)::int AS labelled FROM user_labels`);
    return labelled >= params.minLabels
      ? null
      : `ANOMALY_SUPERVISED learns from admin labels and ${labelled} user${labelled === 1 ? ' is' : 's are'} labelled (params.minLabels is ${params.minLabels}); label users with labelUser, then train it.`;
  },
};
