import type { DataSource } from 'typeorm';
import { encodeArtifact } from '../ml/artifact';
import { evaluateRanking, eventQuantileSplit, RankingMetrics } from '../ml/evaluation';
import { DEFAULT_EVENT_WEIGHTS, ITEM_EVENT_TYPES, ItemEventLog, loadTrainingItemEvents, splitOf, weightsByCode } from './item-events';
import { logDecayedPopularity, relativeScores, topIndices } from './popularity';
import { copyPopularityScores, RankedItems } from './score-tables';
import { IndexedEvents, indexEvents, splitUsersAt, UserSplit } from './user-split';
import { DenseIndex } from './interactions';
import { ModelKind, ModelKindDefinition, TrainedModel, TrainingRun } from '../training/model-kind';
import { BEHAVIOUR_TRAINING_PARAMS, parseParams, ParamsOf } from '../training/params';
import { evaluationSummary } from './ranking-summary';

/** Half-lives (hours) the kind chooses among when none is pinned; null is no decay, a plain weighted count. */
export const HALF_LIFE_CANDIDATES: readonly (number | null)[] = [null, 24, 72, 168, 720];
/** What one unit of popularity is: every event, or each (user, item) pair once (its strongest event, at its latest time). */
export const COUNT_CANDIDATES = ['events', 'users'] as const;
type Count = (typeof COUNT_CANDIDATES)[number];

export const POPULARITY_PARAMS = {
  ...BEHAVIOUR_TRAINING_PARAMS,
  halfLifeHours: {
    type: 'number',
    min: 0,
    max: 100_000,
    default: 0,
    description:
      'an event counts half as much this many hours before the newest event; 0 chooses on a validation period among no decay (a plain count), 24, 72, 168 and 720 h',
  },
  count: {
    type: 'enum',
    values: ['chosen', ...COUNT_CANDIDATES],
    default: 'chosen',
    description: 'events: every event adds its weight; users: each user adds an item’s strongest event weight once (repeat views count once); chosen: on the validation period, with the half-life',
  },
  weights: { type: 'weights', keys: ITEM_EVENT_TYPES, min: 0, max: 100, default: DEFAULT_EVENT_WEIGHTS, description: 'what each event type adds to an item’s popularity' },
  topK: { type: 'int', min: 10, max: 5000, default: 500, description: 'items stored in the shop-wide list' },
  categoryTopK: { type: 'int', min: 1, max: 1000, default: 100, description: 'items stored per category (the trending lists)' },
  evaluationK: { type: 'int', min: 1, max: 200, default: 20, description: 'K of recall@K, NDCG@K, … on the held-out period' },
  holdoutFraction: { type: 'number', min: 0.05, max: 0.5, default: 0.2, description: 'latest share of the item events (by time) held out for evaluation' },
} as const;
export type PopularityParams = ParamsOf<typeof POPULARITY_PARAMS>;

async function categoriesOf(dataSource: DataSource, itemIds: readonly number[]): Promise<Map<number, string>> {
  const rows: { id: number; category: string }[] = await dataSource.query(`SELECT id, category FROM items WHERE id = ANY($1::int[]) AND category IS NOT NULL`, [itemIds]);
  return new Map(rows.map((row) => [row.id, row.category]));
}

/** The events of a log before `t`, in the same (user, time) order. */
function logBefore(log: ItemEventLog, t: number): ItemEventLog {
  const kept: number[] = [];
  for (let n = 0; n < log.times.length; n++) if (log.times[n] < t) kept.push(n);
  const pick = <A extends Int32Array | Uint8Array | Float64Array>(column: A, make: (length: number) => A): A => {
    const out = make(kept.length);
    kept.forEach((n, m) => (out[m] = column[n]));
    return out;
  };
  return {
    users: pick(log.users, (l) => new Int32Array(l)),
    items: pick(log.items, (l) => new Int32Array(l)),
    types: pick(log.types, (l) => new Uint8Array(l)),
    times: pick(log.times, (l) => new Float64Array(l)),
    sessions: pick(log.sessions, (l) => new Int32Array(l)),
    sessionCount: log.sessionCount,
  };
}

/** A way to count popularity: the unit and the half-life (null: no decay). */
interface Candidate {
  count: Count;
  halfLifeHours: number | null;
}

interface CandidateMetrics extends Candidate {
  metrics: RankingMetrics;
}

/**
 * The events as `count` counts them: all of them, or one per (user, item) pair with the pair's
 * strongest weight at its latest time (events come in (user, time) order).
 */
function countedEvents(events: IndexedEvents, count: Count): { items: ArrayLike<number>; weights: ArrayLike<number>; times: ArrayLike<number> } {
  if (count === 'events') return events;
  const items: number[] = [];
  const weights: number[] = [];
  const times: number[] = [];
  for (let start = 0; start < events.users.length; ) {
    let end = start + 1;
    while (end < events.users.length && events.users[end] === events.users[start]) end++;
    const pairAt = new Map<number, number>();
    for (let n = start; n < end; n++) {
      const at = pairAt.get(events.items[n]);
      if (at === undefined) {
        pairAt.set(events.items[n], items.length);
        items.push(events.items[n]);
        weights.push(events.weights[n]);
        times.push(events.times[n]);
      } else {
        weights[at] = Math.max(weights[at], events.weights[n]);
        times[at] = events.times[n];
      }
    }
    start = end;
  }
  return { items, weights, times };
}

const halfLifeMs = (candidate: Candidate) => (candidate.halfLifeHours === null ? null : candidate.halfLifeHours * 3_600_000);

/** Each candidate's list as of `splitAt`, from the events before it, scored on the split's held-out users. */
function evaluateCandidates(log: ItemEventLog, splitAt: Date, weights: Float32Array, k: number, candidates: readonly Candidate[]): { split: UserSplit; candidates: CandidateMetrics[]; rankings: number[][] } {
  const split = splitUsersAt(log, splitAt, weights, 50);
  const counted = new Map(COUNT_CANDIDATES.map((count) => [count, countedEvents(split.before, count)]));
  const rankings: number[][] = [];
  return {
    split,
    rankings,
    candidates: candidates.map((candidate) => {
      const logs = logDecayedPopularity(split.trainedItemCount, counted.get(candidate.count)!, halfLifeMs(candidate), splitAt.getTime());
      const ranked = topIndices(logs, split.trainedItemCount);
      rankings.push(ranked);
      const metrics = evaluateRanking(
        split.cases,
        (_user, excluded) => {
          const list: number[] = [];
          for (let n = 0; n < ranked.length && list.length < k; n++) if (!excluded.has(ranked[n])) list.push(ranked[n]);
          return list;
        },
        k,
        split.trainedItemCount,
      );
      return { ...candidate, metrics };
    }),
  };
}

const round = (value: number) => Math.round(value * 1e5) / 1e5;
const summary = (candidates: CandidateMetrics[]) => candidates.map((c) => ({ count: c.count, halfLifeHours: c.halfLifeHours, recall: round(c.metrics.recall), ndcg: round(c.metrics.ndcg) }));

/** The candidates the params leave open: pinned values stay, `chosen` / 0 open every choice. */
function candidatesOf(params: PopularityParams): Candidate[] {
  const counts = params.count === 'chosen' ? COUNT_CANDIDATES : [params.count];
  const halfLives = params.halfLifeHours > 0 ? [params.halfLifeHours] : HALF_LIFE_CANDIDATES;
  return counts.flatMap((count) => halfLives.map((halfLifeHours) => ({ count, halfLifeHours })));
}

/**
 * The way of counting to serve: the only candidate when the params pin both, else the candidate
 * with the best recall@K on a validation split inside the training period (the latest
 * `holdoutFraction` of the events before `splitAt`), so the held-out period that judges the version
 * played no part in choosing it. Ties go to the earlier candidate (events before users, no decay
 * first). Without validation users (too little data) the first candidate is taken.
 */
function chooseCandidate(log: ItemEventLog, splitAt: Date, weights: Float32Array, params: PopularityParams) {
  const candidates = candidatesOf(params);
  if (candidates.length === 1) return { chosen: candidates[0], chosenBy: 'params' as const };
  const training = logBefore(log, splitAt.getTime());
  if (training.times.length < 2) return { chosen: candidates[0], chosenBy: 'default (too few events before the split to validate)' as const };
  const validationSplitAt = new Date(eventQuantileSplit(training.times, params.holdoutFraction));
  const validated = evaluateCandidates(training, validationSplitAt, weights, params.evaluationK, candidates);
  if (validated.split.cases.length === 0) return { chosen: candidates[0], chosenBy: 'default (no users to validate on)' as const };
  let best = validated.candidates[0];
  for (const candidate of validated.candidates) if (candidate.metrics.recall > best.metrics.recall) best = candidate;
  return {
    chosen: { count: best.count, halfLifeHours: best.halfLifeHours },
    chosenBy: 'validation' as const,
    validation: { splitAt: validationSplitAt.toISOString(), heldOutUsers: validated.split.cases.length, candidates: summary(validated.candidates) },
  };
}

/**
 * Time-decayed popularity, shop-wide and per category. What counts (every event or each user once)
 * and the half-life are chosen on a validation period unless pinned (`chooseCandidate`). Evaluated as any user-level recommender: the list as of
 * the split instant, minus what each held-out user bought, against the harness's plain popularity
 * baseline (distinct users, no decay); every candidate's held-out figures are recorded beside it.
 * Scores decay relative to the newest event and are stored relative to each list's top item
 * (`relativeScores`), so no range is too long for the `real` column.
 */
async function train(run: TrainingRun<PopularityParams>): Promise<TrainedModel> {
  const { params } = run;
  const started = performance.now();
  await run.progress(0.05, 'loading events');
  const log = await loadTrainingItemEvents(run.events, run);
  const weights = weightsByCode(params.weights);
  const { from, splitAt } = splitOf(log, run.from, params.holdoutFraction);

  await run.progress(0.2, 'choosing how to count');
  const { chosen, ...howChosen } = chooseCandidate(log, splitAt, weights, params);
  await run.progress(0.4, 'evaluating on the held-out period');
  const k = params.evaluationK;
  const heldOut = evaluateCandidates(log, splitAt, weights, k, candidatesOf(params));
  const { split } = heldOut;
  const chosenAt = heldOut.candidates.findIndex((c) => c.count === chosen.count && c.halfLifeHours === chosen.halfLifeHours);
  const ranked = heldOut.rankings[chosenAt];
  // POPULARITY is judged on a global time split (its list depends on "now"), against the same baselines as every ranking kind.
  const recommend = (_user: number, excluded: ReadonlySet<number>, depth: number) => {
    // Stops once the list is full: `ranked` is every item with events (tens of thousands on a real shop).
    const list: number[] = [];
    for (let n = 0; n < ranked.length && list.length < depth; n++) if (!excluded.has(ranked[n])) list.push(ranked[n]);
    return list;
  };
  const evaluation = evaluationSummary(split, k, recommend, { baseline: 'popularity', mode: 'match' }, {
    count: chosen.count,
    halfLifeHours: chosen.halfLifeHours,
    choice: { ...howChosen, heldOutCandidates: summary(heldOut.candidates) },
  });

  await run.progress(0.7, 'ranking the whole range');
  const items = new DenseIndex([]);
  const all = indexEvents(log, weights, () => true, items);
  const lastEvent = all.times.reduce((a, b) => Math.max(a, b), 0);
  const asOf = Math.min(run.to.getTime(), lastEvent + 1);
  const logScores = logDecayedPopularity(items.size, countedEvents(all, chosen.count), halfLifeMs(chosen), asOf);
  const categories = await categoriesOf(run.dataSource, items.ids);
  const toList = (indices: number[]): RankedItems => ({ itemIds: indices.map((i) => items.ids[i]), scores: relativeScores(logScores, indices) });
  const lists: [string, RankedItems][] = [['', toList(topIndices(logScores, params.topK))]];
  const byCategory = new Map<string, number[]>();
  items.ids.forEach((id, index) => {
    const category = categories.get(id);
    if (category === undefined) return;
    let members = byCategory.get(category);
    if (!members) byCategory.set(category, (members = []));
    members.push(index);
  });
  for (const [category, members] of [...byCategory].sort((a, b) => a[0].localeCompare(b[0]))) {
    // Ranked among the members only, not by a scan of the whole catalogue per category (Taobao has thousands).
    const ranked = members.filter((index) => logScores[index] > -Infinity).sort((a, b) => logScores[b] - logScores[a] || a - b);
    lists.push([category, toList(ranked.slice(0, params.categoryTopK))]);
  }

  const { count, halfLifeHours } = chosen;
  const metrics = {
    evaluation,
    training: { items: items.size, categories: byCategory.size, events: log.items.length, asOf: new Date(asOf).toISOString(), totalSeconds: (performance.now() - started) / 1000 },
  };
  return {
    artifact: encodeArtifact({ header: { format: 'popularity-v1', count, halfLifeHours, asOf: new Date(asOf).toISOString(), lists: lists.length }, tensors: [] }),
    metrics,
    eventCount: log.items.length,
    trainedFrom: from,
    trainedTo: run.to,
    // Activated unless significantly worse than the plain count of distinct users on the time split.
    verdict: evaluation.verdict,
    writeScores: (client, modelVersionId) => copyPopularityScores(client, modelVersionId, lists),
  };
}

export const popularity: ModelKindDefinition<PopularityParams> = {
  kind: ModelKind.POPULARITY,
  scoreTable: 'popularity_scores',
  parseParams: (raw) => parseParams(ModelKind.POPULARITY, POPULARITY_PARAMS, raw),
  train,
};
