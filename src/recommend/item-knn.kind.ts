import { encodeArtifact } from '../ml/artifact';
import { popularityRecommender } from '../ml/evaluation';
import { scoreFromNeighbours } from './fold-in';
import { DEFAULT_EVENT_WEIGHTS, ITEM_EVENT_TYPES, loadTrainingItemEvents, splitOf, weightsByCode } from './item-events';
import { itemNeighbours, NeighbourList } from './item-similarity';
import { evaluationSummary, filledFrom } from './ranking-summary';
import { copyItemNeighbours, NeighbourRelation, RankedItems } from './score-tables';
import { basketsOf, distinctPairItems, IndexedEvents, indexEvents, splitUsers } from './user-split';
import { DenseIndex } from './interactions';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { TrainingDataError } from '../training/training-errors';

export const ITEM_KNN_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  neighbours: { type: 'int', min: 1, max: 500, default: 50, description: 'neighbours stored per item and relation' },
  similarity: { type: 'enum', values: ['cosine', 'rp3beta'], default: 'cosine', description: 'cosine over baskets (damped by shrink), or RP3beta: a two-step item → basket → item walk divided by the neighbour’s basket count ^ popularityPenalty (Paudel et al. 2017)' },
  shrink: { type: 'number', min: 0, max: 1000, default: 2, description: 'cosine: a pair sharing n baskets keeps n / (n + shrink) of its cosine' },
  popularityPenalty: { type: 'number', min: 0, max: 1, default: 0.5, description: 'rp3beta: β, the power of the neighbour’s basket count it is divided by (0: the plain walk)' },
  weights: { type: 'weights', keys: ITEM_EVENT_TYPES, min: 0, max: 100, default: DEFAULT_EVENT_WEIGHTS, description: 'an item’s weight in a basket: its strongest event type' },
  baskets: { type: 'enum', values: ['both', 'session', 'user'], default: 'both', description: 'co-occurrence in sessions, in user histories, or both' },
  basketMaxItems: { type: 'int', min: 2, max: 1000, default: 50, description: 'a basket keeps its most recent items, so one huge history does not dominate' },
  historyLength: { type: 'int', min: 1, max: 200, default: 20, description: 'recent distinct items of a user that fold-in scores from (also in serving)' },
  historyItemWeight: { type: 'number', min: 0, max: 10, default: 1, description: 'similarity of a history item to itself: above 0, recently seen items may come back in the list' },
  recencyDecay: { type: 'number', min: 0, max: 1, default: 0.9, description: 'each older history item counts this much less than the next newer one' },
  evaluationK: { type: 'int', min: 1, max: 200, default: 20, description: 'K of recall@K, NDCG@K, … on the held-out period' },
  holdoutFraction: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'latest share of the item events (by time) held out for evaluation' },
} as const;
export type ItemKnnParams = ParamsOf<typeof ITEM_KNN_PARAMS>;

/** Carts, checkouts and purchases only: what "bought together" co-occurs on. */
const BUYING_TYPES = new Set(['cart', 'checkout', 'purchase']);

/** The `similar` and `bought_together` neighbour lists of every item of `events` (dense item indices below itemCount). */
export function neighbourTables(events: IndexedEvents, itemCount: number, params: ItemKnnParams): { similar: NeighbourList[]; boughtTogether: NeighbourList[] } {
  const weights = weightsByCode(params.weights);
  const groups = params.baskets === 'both' ? (['user', 'session'] as const) : ([params.baskets] as const);
  const options = { neighbours: params.neighbours, shrink: params.shrink, similarity: params.similarity, popularityPenalty: params.popularityPenalty };
  const similar = itemNeighbours(itemCount, groups.flatMap((group) => basketsOf(events, weights, group, params.basketMaxItems)), options);
  const buyingWeights = weights.map((weight, code) => (BUYING_TYPES.has(ITEM_EVENT_TYPES[code]) ? weight : 0));
  const boughtTogether = itemNeighbours(itemCount, groups.flatMap((group) => basketsOf(events, buyingWeights, group, params.basketMaxItems)), options);
  return { similar, boughtTogether };
}

/**
 * Item-to-item similarity from co-occurrence (cosine with support damping), stored as each item's
 * top neighbours: `similar` over every weighted event, `bought_together` over carts and purchases.
 * Evaluated by the fold-in serving uses: each held-out user's list is scored from their recent
 * history before the split and filled from popularity when short, as serving does.
 */
async function train(run: TrainingRun<ItemKnnParams>): Promise<TrainedModel> {
  const { params } = run;
  const started = performance.now();
  await run.progress(0.05, 'loading events');
  const log = await loadTrainingItemEvents(run.events, run);
  const weights = weightsByCode(params.weights);
  const { from } = splitOf(log, run.from, params.holdoutFraction);

  await run.progress(0.15, 'neighbours on the kept events');
  const split = splitUsers(log, params.holdoutFraction, weights, params.historyLength);
  if (split.trainedItemCount < 2) throw new TrainingDataError(`Too little data to train (${split.trainedItemCount} items outside the held-out events); ingest more events or widen the range.`);
  await run.progress(0.45, 'evaluating on the held-out events');
  const k = params.evaluationK;
  const byPopularity = popularityRecommender(distinctPairItems(split.before))(-1, new Set());
  let filled = 0;
  /** Fold-in as serving does it, with `settings`' neighbour tables fitted on the kept events, filled from popularity. */
  const recommenderOf = (settings: ItemKnnParams, counting: boolean) => {
    const tables = neighbourTables(split.before, split.trainedItemCount, settings);
    return (user: number, excluded: ReadonlySet<number>, depth: number) => {
      const scores = scoreFromNeighbours(split.historyBefore.get(user) ?? [], (item) => tables.similar[item], settings.recencyDecay, settings.historyItemWeight);
      const list = [...scores].filter(([item]) => !excluded.has(item)).sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, depth).map(([item]) => item);
      if (counting && list.length < depth) filled++;
      return filledFrom(list, byPopularity, excluded, depth);
    };
  };
  // Other params than the ACTIVE version's: the new ones must also beat those on the same users.
  const active = run.activeParams ? recommenderOf(run.activeParams, false) : null;
  const evaluation = evaluationSummary(split, k, recommenderOf(params, true), { baseline: 'popularity', mode: 'beat' }, {}, active);

  await run.progress(0.6, 'neighbours on the whole range');
  const items = new DenseIndex([]);
  const all = indexEvents(log, weights, () => true, items);
  const final = neighbourTables(all, items.size, params);
  const toRanked = (list: NeighbourList): RankedItems => ({ itemIds: Array.from(list.ids, (i) => items.ids[i]), scores: list.scores });
  const withNeighbours = (lists: NeighbourList[]) => lists.filter((list) => list.ids.length > 0).length;

  const metrics = {
    evaluation: { ...evaluation, listsFilledFromPopularity: filled },
    training: {
      items: items.size,
      itemsWithSimilar: withNeighbours(final.similar),
      itemsWithBoughtTogether: withNeighbours(final.boughtTogether),
      events: log.items.length,
      totalSeconds: (performance.now() - started) / 1000,
    },
  };
  function* rows(): Generator<[NeighbourRelation, number, RankedItems]> {
    for (let i = 0; i < items.size; i++) yield ['similar', items.ids[i], toRanked(final.similar[i])];
    for (let i = 0; i < items.size; i++) yield ['bought_together', items.ids[i], toRanked(final.boughtTogether[i])];
  }
  return {
    artifact: encodeArtifact({ header: { format: 'item-knn-v1', items: items.size, historyLength: params.historyLength, recencyDecay: params.recencyDecay, historyItemWeight: params.historyItemWeight }, tensors: [] }),
    metrics,
    eventCount: log.items.length,
    trainedFrom: from,
    trainedTo: run.to,
    verdict: evaluation.verdict,
    writeScores: (client, modelVersionId) => copyItemNeighbours(client, modelVersionId, rows()),
  };
}

export const itemKnn: ModelKindDefinition<ItemKnnParams> = {
  kind: ModelKind.ITEM_KNN,
  scoreTable: 'item_neighbours',
  parseParams: (raw) => parseParams(ModelKind.ITEM_KNN, ITEM_KNN_PARAMS, raw),
  train,
};
