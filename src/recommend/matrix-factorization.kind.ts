import { encodeArtifact } from '../ml/artifact';
import { evaluateRanking, HeldOutUser, popularityRecommender } from '../ml/evaluation';
import { BprOptions, Factors, PairSet, topItemsForUsers, trainBpr } from '../ml/matrix-factorization';
import { copyRecommendationScores } from './recommendation-scores';
import { DenseIndex, Interactions, loadInteractions, mergeInteractions } from './interactions';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';

const EVENT_TYPES = ['view', 'fav', 'cart', 'checkout', 'purchase'] as const;

export const MATRIX_FACTORIZATION_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  dimensions: { type: 'int', min: 2, max: 256, default: 16, description: 'length of the user and item factor vectors' },
  epochs: { type: 'int', min: 1, max: 500, default: 20, description: 'passes over the interaction pairs' },
  learningRate: { type: 'number', min: 1e-5, max: 1, default: 0.05, description: 'Adam step size' },
  regularization: { type: 'number', min: 0, max: 10, default: 0.05, description: 'L2 penalty on the factors a minibatch touches' },
  negatives: { type: 'int', min: 1, max: 50, default: 1, description: 'negative items drawn per positive pair' },
  negativeSampling: { type: 'enum', values: ['uniform', 'popularity'], default: 'uniform', description: 'how negatives are drawn' },
  batchSize: { type: 'int', min: 16, max: 65536, default: 1024, description: 'positive pairs per minibatch' },
  weights: {
    type: 'weights',
    keys: EVENT_TYPES,
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

interface PreparedPairs {
  pairs: PairSet;
  users: DenseIndex;
  items: DenseIndex;
  /** Items each (dense) user purchased: never recommended to them. */
  purchasedBy: Map<number, Set<number>>;
}

function preparePairs(interactions: Interactions, items: DenseIndex): PreparedPairs {
  const users = new DenseIndex(interactions.users);
  for (const item of interactions.items) items.add(item);
  const purchasedBy = new Map<number, Set<number>>();
  const pairUsers = new Int32Array(interactions.users.length);
  const pairItems = new Int32Array(interactions.users.length);
  for (let i = 0; i < interactions.users.length; i++) {
    pairUsers[i] = users.get(interactions.users[i])!;
    pairItems[i] = items.get(interactions.items[i])!;
    if (interactions.purchased[i]) {
      let set = purchasedBy.get(pairUsers[i]);
      if (!set) purchasedBy.set(pairUsers[i], (set = new Set()));
      set.add(pairItems[i]);
    }
  }
  return {
    pairs: { userCount: users.size, itemCount: items.size, users: pairUsers, items: pairItems, weights: interactions.weights },
    users,
    items,
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

const round = (value: number) => Math.round(value * 1e5) / 1e5;
function rounded<T extends object>(metrics: T): T {
  return Object.fromEntries(Object.entries(metrics).map(([key, value]) => [key, typeof value === 'number' ? round(value) : value])) as T;
}

/**
 * Fits on events before the split, scores the held-out users against the popularity baseline,
 * then (with `refit`) fits again on the whole range and stores every user's top items, leaving
 * out what they already bought.
 */
async function train(run: TrainingRun<MatrixFactorizationParams>): Promise<TrainedModel> {
  const { tf, params } = run;
  const started = performance.now();
  // The held-out period is the latest share of the events (as eventQuantileSplit: a share of the
  // events, not of the span, so neither a quiet present nor a stray early event moves it).
  const [{ first, split }] = (await run.dataSource.query(
    `SELECT min(ts) AS first, percentile_disc($3::float8) WITHIN GROUP (ORDER BY ts) AS split
     FROM events WHERE item_id IS NOT NULL AND ($1::timestamptz IS NULL OR ts >= $1) AND ts < $2`,
    [run.from, run.to, 1 - params.holdoutFraction],
  )) as { first: Date | null; split: Date | null }[];
  if (!first || !split) throw new TrainingDataError(`There are no item events between ${run.from?.toISOString() ?? 'the beginning'} and ${run.to.toISOString()}; ingest events or widen the range.`);
  const from = run.from ?? first;
  const splitAt = split;
  await run.progress(0.02, 'loading interactions');
  const { before, after } = await loadInteractions(run.dataSource, { from: run.from, to: run.to, weights: params.weights, excludeUsers: run.excludedUsers }, splitAt);
  const items = new DenseIndex([]);
  const evaluation = preparePairs(before, items);
  if (evaluation.users.size < 2 || items.size < 2) {
    throw new TrainingDataError(`Too little data before ${splitAt.toISOString()} to train (${evaluation.users.size} users, ${items.size} items); ingest more events or widen the range.`);
  }
  const fitShare = params.refit ? 0.45 : 0.85;
  const fit = (share: number, offset: number, label: string) => async (report: { epoch: number; epochs: number; loss: number }) =>
    run.progress(offset + (share * report.epoch) / report.epochs, `${label}: epoch ${report.epoch}/${report.epochs}, loss ${report.loss.toFixed(4)}`);

  const evaluated = await trainBpr(tf, evaluation.pairs, bprOptions(params), fit(fitShare, 0.05, 'fitting before the split'));

  // Held-out users: known before T, with interactions after it.
  const heldOut = new Map<number, { relevant: Set<number> }>();
  for (let i = 0; i < after.users.length; i++) {
    const user = evaluation.users.get(after.users[i]);
    if (user === undefined) continue;
    let entry = heldOut.get(user);
    if (!entry) heldOut.set(user, (entry = { relevant: new Set() }));
    // Items first seen after T cannot be recommended by either model; they still count as misses.
    // They get keys no item position has, so the index (and, without refit, the stored model's
    // item list) stays the one the factors were fitted on.
    entry.relevant.add(items.get(after.items[i]) ?? -1 - after.items[i]);
  }
  const cases: HeldOutUser[] = [...heldOut].map(([user, entry]) => ({ user, relevant: entry.relevant, excluded: evaluation.purchasedBy.get(user) ?? new Set() }));
  const k = params.evaluationK;
  const modelLists = await topItemsForUsers(tf, evaluated, cases.map((c) => c.user), k, (user) => evaluation.purchasedBy.get(user));
  const listOf = new Map(cases.map((c, n) => [c.user, Array.from(modelLists.items[n])]));
  const trainedItemCount = evaluation.pairs.itemCount;
  const model = evaluateRanking(cases, (user) => listOf.get(user)!, k, trainedItemCount);
  const popular = popularityRecommender(evaluation.pairs.items);
  const baseline = evaluateRanking(cases, (user, excluded) => popular(user, excluded, k), k, trainedItemCount);

  let final: PreparedPairs = evaluation;
  let factors: Factors = evaluated;
  let fitted = evaluated;
  if (params.refit) {
    const finalItems = new DenseIndex([]);
    final = preparePairs(mergeInteractions(before, after), finalItems);
    fitted = await trainBpr(tf, final.pairs, bprOptions(params), fit(0.4, 0.5, 'fitting on the whole range'));
    factors = fitted;
  }
  await run.progress(0.92, 'computing every user’s top items');
  const everyone = Int32Array.from({ length: final.pairs.userCount }, (_, n) => n);
  const lists = await topItemsForUsers(tf, factors, everyone, params.topK, (user) => final.purchasedBy.get(user));
  const lastEpoch = fitted.epochs[fitted.epochs.length - 1];

  const metrics = {
    evaluation: {
      splitAt: splitAt.toISOString(),
      k,
      heldOutUsers: cases.length,
      model: rounded(model),
      popularityBaseline: rounded(baseline),
      recallLiftOverBaseline: baseline.recall > 0 ? round(model.recall / baseline.recall) : null,
      ndcgLiftOverBaseline: baseline.ndcg > 0 ? round(model.ndcg / baseline.ndcg) : null,
    },
    training: {
      users: final.pairs.userCount,
      items: final.pairs.itemCount,
      pairs: final.pairs.users.length,
      finalLoss: round(lastEpoch.loss),
      epochSeconds: round(fitted.seconds / fitted.epochs.length),
      stepsPerSecond: round(fitted.steps / fitted.seconds),
      totalSeconds: round((performance.now() - started) / 1000),
    },
  };
  const artifact = encodeArtifact({
    header: { format: 'matrix-factorization-v1', dimensions: factors.dimensions, userCount: final.pairs.userCount, itemCount: final.pairs.itemCount },
    tensors: [
      { name: 'userIds', dtype: 'int32', shape: [final.users.size], data: Int32Array.from(final.users.ids) },
      { name: 'itemIds', dtype: 'int32', shape: [final.items.size], data: Int32Array.from(final.items.ids) },
      { name: 'userFactors', dtype: 'float32', shape: [final.users.size, factors.dimensions], data: factors.userFactors },
      { name: 'itemFactors', dtype: 'float32', shape: [final.items.size, factors.dimensions], data: factors.itemFactors },
      { name: 'itemBias', dtype: 'float32', shape: [final.items.size], data: factors.itemBias },
    ],
  });
  return {
    artifact,
    metrics,
    eventCount: params.refit ? before.eventCount + after.eventCount : before.eventCount,
    trainedFrom: from,
    trainedTo: params.refit ? run.to : splitAt,
    writeScores: (client, modelVersionId) =>
      copyRecommendationScores(
        client,
        modelVersionId,
        (function* () {
          for (let user = 0; user < everyone.length; user++) {
            yield { userId: final.users.ids[user], itemIds: Array.from(lists.items[user], (item) => final.items.ids[item]), scores: lists.scores[user] };
          }
        })(),
      ),
  };
}

export const matrixFactorization: ModelKindDefinition<MatrixFactorizationParams> = {
  kind: ModelKind.MATRIX_FACTORIZATION,
  scoreTable: 'recommendation_scores',
  parseParams: (raw) => parseParams(ModelKind.MATRIX_FACTORIZATION, MATRIX_FACTORIZATION_PARAMS, raw),
  train,
};
