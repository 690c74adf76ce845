import { encodeArtifact } from '../ml/artifact';
import { popularityRecommender } from '../ml/evaluation';
import { AlsOptions, trainImplicitAls } from '../ml/implicit-als';
import { BprOptions, Factors, PairSet, topItemsForUsers, trainBpr } from '../ml/matrix-factorization';
import { copyRecommendationScores } from './recommendation-scores';
import { DenseIndex } from './interactions';
import { ITEM_EVENT_TYPES, ItemEventLog, loadTrainingItemEvents, PURCHASE, splitOf, weightsByCode } from './item-events';
import { evaluationSummary, filledFrom } from './ranking-summary';
import { distinctPairItems, IndexedEvents, indexEvents, splitUsers } from './user-split';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';
import type { Tf } from '../ml/tf-backend';
import { factorUserIds, factorsWithoutUser } from './factor-rows';

export const MATRIX_FACTORIZATION_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  algorithm: {
    type: 'enum',
    values: ['als', 'bpr'],
    default: 'als',
    description: 'als: implicit alternating least squares (Hu, Koren & Volinsky 2008); bpr: Bayesian personalised ranking by minibatch gradient steps',
  },
  dimensions: { type: 'int', min: 2, max: 256, default: 32, description: 'length of the user and item factor vectors' },
  iterations: { type: 'int', min: 1, max: 100, default: 10, description: 'als: alternations (all users solved, then all items)' },
  alpha: { type: 'number', min: 0, max: 10000, default: 200, description: 'als: confidence of an interaction is 1 + alpha · its weight (untouched items have confidence 1)' },
  alsRegularization: { type: 'number', min: 0.001, max: 100000, default: 100, description: 'als: λ of the L2 penalty on every factor vector (above 0: it keeps every per-row system solvable)' },
  conjugateGradientSteps: { type: 'int', min: 0, max: 256, default: 3, description: 'als: conjugate-gradient steps per row and half-step; 0 solves each row exactly (Cholesky, slower)' },
  epochs: { type: 'int', min: 1, max: 500, default: 20, description: 'bpr: passes over the interaction pairs' },
  learningRate: { type: 'number', min: 1e-5, max: 1, default: 0.05, description: 'bpr: Adam step size' },
  regularization: { type: 'number', min: 0, max: 10, default: 0.05, description: 'bpr: L2 penalty on the factors a minibatch touches' },
  negatives: { type: 'int', min: 1, max: 50, default: 1, description: 'bpr: negative items drawn per positive pair' },
  negativeSampling: { type: 'enum', values: ['uniform', 'popularity'], default: 'uniform', description: 'bpr: how negatives are drawn' },
  batchSize: { type: 'int', min: 16, max: 65536, default: 1024, description: 'bpr: positive pairs per minibatch' },
  weights: {
    type: 'weights',
    keys: ITEM_EVENT_TYPES,
    min: 0,
    max: 100,
    default: { view: 1, fav: 2, cart: 3, checkout: 3, purchase: 5 },
    description: 'how strongly each event type says "likes this item"; the strongest type of a pair counts',
  },
  topK: { type: 'int', min: 1, max: 500, default: 50, description: 'items stored per user' },
  evaluationK: { type: 'int', min: 1, max: 200, default: 20, description: 'K of recall@K, NDCG@K, … on the held-out period' },
  holdoutFraction: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'latest share of the item events (by time) held out for evaluation' },
  refit: { type: 'boolean', default: true, description: 'after evaluating, train again on the whole range for the stored lists' },
  seed: { type: 'int', min: 0, max: 2 ** 31 - 1, default: 42, description: 'random seed of initialisation and sampling' },
} as const;

export type MatrixFactorizationParams = ParamsOf<typeof MATRIX_FACTORIZATION_PARAMS>;

export interface PreparedPairs {
  pairs: PairSet;
  /** Dense user index → users.id. */
  userIds: number[];
  /** Items each (dense) user purchased: never recommended to them. */
  purchasedBy: Map<number, Set<number>>;
}

/**
 * One pair per (user, item) of the indexed events, with the strongest weight among its events.
 * Events come in (user, time) order, so a user's pairs are gathered in one run.
 */
export function preparePairs(events: IndexedEvents, itemCount: number): PreparedPairs {
  const users = new DenseIndex([]);
  const pairUsers: number[] = [];
  const pairItems: number[] = [];
  const pairWeights: number[] = [];
  const purchasedBy = new Map<number, Set<number>>();
  for (let start = 0; start < events.users.length; ) {
    let end = start + 1;
    while (end < events.users.length && events.users[end] === events.users[start]) end++;
    const user = users.add(events.users[start]);
    const strongest = new Map<number, number>();
    for (let n = start; n < end; n++) {
      strongest.set(events.items[n], Math.max(strongest.get(events.items[n]) ?? 0, events.weights[n]));
      if (events.types[n] === PURCHASE) {
        let set = purchasedBy.get(user);
        if (!set) purchasedBy.set(user, (set = new Set()));
        set.add(events.items[n]);
      }
    }
    for (const [item, weight] of strongest) {
      pairUsers.push(user);
      pairItems.push(item);
      pairWeights.push(weight);
    }
    start = end;
  }
  return {
    pairs: { userCount: users.size, itemCount, users: Int32Array.from(pairUsers), items: Int32Array.from(pairItems), weights: Float32Array.from(pairWeights) },
    userIds: users.ids,
    purchasedBy,
  };
}

function bprOptions(params: MatrixFactorizationParams): BprOptions {
  return {
    dimensions: params.dimensions,
    epochs: params.epochs,
    learningRate: params.learningRate,
    regularization: params.regularization,
    negatives: params.negatives,
    negativeSampling: params.negativeSampling,
    batchSize: params.batchSize,
    seed: params.seed,
  };
}

function alsOptions(params: MatrixFactorizationParams): AlsOptions {
  return {
    dimensions: params.dimensions,
    iterations: params.iterations,
    alpha: params.alpha,
    regularization: params.alsRegularization,
    conjugateGradientSteps: params.conjugateGradientSteps,
    initScale: 0.1 / Math.sqrt(params.dimensions),
    seed: params.seed,
  };
}

interface Fitted extends Factors {
  finalLoss: number;
  seconds: number;
  /** Per pass: epochs (bpr) or iterations (als). */
  passes: number;
  detail: Record<string, number>;
}

/** Fits the chosen algorithm, reporting progress from `offset` over `share` of the bar. */
/** Factors for `pairs` by the params' algorithm (implicit ALS or BPR); `report` hears the fraction done. */
export async function fit(tf: Tf, pairs: PairSet, params: MatrixFactorizationParams, report: (fraction: number, message: string) => Promise<void> = async () => undefined): Promise<Fitted> {
  if (params.algorithm === 'als') {
    const result = await trainImplicitAls(pairs, alsOptions(params), (r) => report(r.iteration / r.iterations, `iteration ${r.iteration}/${r.iterations}, loss ${r.loss.toExponential(4)}`));
    return { ...result, finalLoss: result.iterations[result.iterations.length - 1].loss, passes: result.iterations.length, detail: {} };
  }
  const result = await trainBpr(tf, pairs, bprOptions(params), (r) => report(r.epoch / r.epochs, `epoch ${r.epoch}/${r.epochs}, loss ${r.loss.toFixed(4)}`));
  return { ...result, finalLoss: result.epochs[result.epochs.length - 1].loss, passes: result.epochs.length, detail: { stepsPerSecond: result.steps / result.seconds } };
}

const round = (value: number) => Math.round(value * 1e5) / 1e5;
/** How far past K each held-out user's list is read, so excluded items can be skipped. */
const EVALUATION_DEPTH = 100;

/**
 * Fits on events before the split, scores the held-out users (`splitUsers`, as every ranking kind)
 * against the popularity baseline, then (with `refit`) fits again on the whole range and stores
 * every user's top items, leaving out what they already bought.
 */
async function train(run: TrainingRun<MatrixFactorizationParams>): Promise<TrainedModel> {
  const { tf, params } = run;
  const started = performance.now();
  await run.progress(0.02, 'loading events');
  const log: ItemEventLog = await loadTrainingItemEvents(run.events, run);
  const weights = weightsByCode(params.weights);
  const { from } = splitOf(log, run.from, params.holdoutFraction);
  const split = splitUsers(log, params.holdoutFraction, weights, 50);
  const evaluation = preparePairs(split.before, split.trainedItemCount);
  if (evaluation.pairs.userCount < 2 || split.trainedItemCount < 2) {
    throw new TrainingDataError(`Too little data outside the held-out events to train (${evaluation.pairs.userCount} users, ${split.trainedItemCount} items); ingest more events or widen the range.`);
  }
  // Without refit the stored model saw each user's events only until their held-out ones began:
  // serving keeps a user's stored vector only for users with nothing newer than this.
  const seenUntil = new Date(Number.isFinite(split.heldOutFrom) ? split.heldOutFrom : run.to.getTime());
  const fitShare = params.refit ? 0.45 : 0.85;
  const progress = (share: number, offset: number, label: string) => (fraction: number, message: string) => run.progress(offset + share * fraction, `${label}: ${message}`);

  const evaluated = await fit(tf, evaluation.pairs, params, progress(fitShare, 0.05, 'fitting before the split'));
  const rowOf = new Map(evaluation.userIds.map((id, row) => [id, row]));
  const k = params.evaluationK;
  // Every held-out user has kept events (splitUsers), so a factor row. Each user's list is read
  // EVALUATION_DEPTH deep without purchases; the new-items measure also drops what the user touched,
  // so a user with more than that many touched items among their top scores gets a shorter list.
  const users = [...new Set([...split.cases, ...split.discoveryCases].map((c) => c.user))].filter((user) => rowOf.has(user));
  const byPopularity = popularityRecommender(distinctPairItems(split.before))(-1, new Set());
  /** Each evaluated user's top items under `factors`, then popularity, minus `excluded`. */
  const recommenderOf = async (factors: Fitted) => {
    const modelLists = await topItemsForUsers(tf, factors, users.map((user) => rowOf.get(user)!), k + EVALUATION_DEPTH, (row) => evaluation.purchasedBy.get(row));
    const listOf = new Map(users.map((user, n) => [user, Array.from(modelLists.items[n])]));
    return (user: number, excluded: ReadonlySet<number>, depth: number) => {
      return filledFrom((listOf.get(user) ?? []).filter((item) => !excluded.has(item)).slice(0, depth), byPopularity, excluded, depth);
    };
  };
  // Other params than the ACTIVE version's: those are fitted on the same pairs, and the new ones must beat them too.
  const active = run.activeParams ? await recommenderOf(await fit(tf, evaluation.pairs, run.activeParams)) : null;
  const summary = evaluationSummary(split, k, await recommenderOf(evaluated), { baseline: 'popularity', mode: 'beat' }, {}, active);

  let final = evaluation;
  let finalItems = split.items.ids.slice(0, split.trainedItemCount);
  let fitted = evaluated;
  if (params.refit) {
    const items = new DenseIndex([]);
    const all = indexEvents(log, weights, () => true, items);
    final = preparePairs(all, items.size);
    finalItems = items.ids;
    fitted = await fit(tf, final.pairs, params, progress(0.4, 0.5, 'fitting on the whole range'));
  }
  await run.progress(0.92, 'computing every user’s top items');
  const everyone = Int32Array.from({ length: final.pairs.userCount }, (_, n) => n);
  const lists = await topItemsForUsers(tf, fitted, everyone, params.topK, (user) => final.purchasedBy.get(user));

  const metrics = {
    evaluation: summary,
    training: {
      algorithm: params.algorithm,
      users: final.pairs.userCount,
      items: final.pairs.itemCount,
      pairs: final.pairs.users.length,
      finalLoss: params.algorithm === 'als' ? fitted.finalLoss : round(fitted.finalLoss),
      passSeconds: round(fitted.seconds / fitted.passes),
      ...Object.fromEntries(Object.entries(fitted.detail).map(([key, value]) => [key, round(value)])),
      totalSeconds: round((performance.now() - started) / 1000),
    },
  };
  const artifact = encodeArtifact({
    header: { format: 'matrix-factorization-v1', algorithm: params.algorithm, dimensions: fitted.dimensions, userCount: final.pairs.userCount, itemCount: final.pairs.itemCount },
    tensors: [
      { name: 'userIds', dtype: 'int32', shape: [final.pairs.userCount], data: Int32Array.from(final.userIds) },
      { name: 'itemIds', dtype: 'int32', shape: [final.pairs.itemCount], data: Int32Array.from(finalItems) },
      { name: 'userFactors', dtype: 'float32', shape: [final.pairs.userCount, fitted.dimensions], data: fitted.userFactors },
      { name: 'itemFactors', dtype: 'float32', shape: [final.pairs.itemCount, fitted.dimensions], data: fitted.itemFactors },
      { name: 'itemBias', dtype: 'float32', shape: [final.pairs.itemCount], data: fitted.itemBias },
    ],
  });
  return {
    artifact,
    metrics,
    eventCount: params.refit ? log.items.length : split.before.items.length,
    trainedFrom: from,
    trainedTo: params.refit ? run.to : seenUntil,
    verdict: summary.verdict,
    writeScores: (client, modelVersionId) =>
      copyRecommendationScores(
        client,
        modelVersionId,
        (function* () {
          for (let user = 0; user < everyone.length; user++) {
            yield { userId: final.userIds[user], itemIds: Array.from(lists.items[user], (item) => finalItems[item]), scores: lists.scores[user] };
          }
        })(),
      ),
  };
}

export const matrixFactorization: ModelKindDefinition<MatrixFactorizationParams> = {
  kind: ModelKind.MATRIX_FACTORIZATION,
  scoreTable: 'recommendation_scores',
  // Each user's top items, and a factor vector per user in the artifact (factor-rows.ts).
  userData: { scoresByUser: true, artifactUsers: factorUserIds, withoutUser: factorsWithoutUser },
  parseParams: (raw) => parseParams(ModelKind.MATRIX_FACTORIZATION, MATRIX_FACTORIZATION_PARAMS, raw),
  train,
};
