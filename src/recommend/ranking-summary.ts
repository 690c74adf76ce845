import { evaluateRanking, pairedBootstrap, popularityRecommender, type HeldOutUser, type PairedDifference, type PerUserRanking, type RankingMetrics } from '../ml/evaluation';
import { itemNeighbours } from './item-similarity';
import { ITEM_EVENT_TYPES } from './item-events';
import { basketsOf, distinctPairItems, type UserSplit } from './user-split';

/** A user-level recommender under evaluation: the user's top `k` items, best first, none of `excluded`. */
export type UserRecommender = (user: number, excluded: ReadonlySet<number>, k: number) => readonly number[];

/** The simple rivals every ranking model is compared with, by the names the version's metrics use. */
export const BASELINES = ['popularity', 'recentlyViewed', 'mostEngaged', 'itemKnn'] as const;
export type BaselineName = (typeof BASELINES)[number];

/** Neighbours per item of the plain item-kNN baseline, and the newest items of a user's set it reads. */
const BASELINE_NEIGHBOURS = 50;
const BASELINE_BASKET_ITEMS = 100;

/** Appends `filler`'s items to `list` until it holds k, skipping repeats and excluded items (as serving's fallback chain fills a list). */
export function filledFrom(list: number[], filler: readonly number[], excluded: ReadonlySet<number>, k: number): number[] {
  if (list.length >= k) return list.slice(0, k);
  const taken = new Set(list);
  for (const item of filler) {
    if (list.length >= k) break;
    if (!taken.has(item) && !excluded.has(item)) list.push(item);
  }
  return list;
}

/**
 * The baselines on a split, each filled from popularity when its own list is short (as serving's
 * fallback chain fills every list):
 * - `popularity`: items by how many distinct users touched them in the kept events;
 * - `recentlyViewed`: the user's own items, most recently touched first;
 * - `mostEngaged`: the user's own items by the summed weight of their events (ties: more recent first);
 * - `itemKnn`: plain item-kNN: cosine over users' item sets (binary, no damping), an item scored by
 *   the summed similarity to every item of the user's kept history (Sarwar et al., WWW 2001).
 */
export function baselineRecommenders(split: UserSplit): Record<BaselineName, UserRecommender> {
  const popular = popularityRecommender(distinctPairItems(split.before));
  const byPopularity = popular(-1, new Set());
  const binary = new Float32Array(ITEM_EVENT_TYPES.length).fill(1);
  const neighbours = itemNeighbours(split.trainedItemCount, basketsOf(split.before, binary, 'user', BASELINE_BASKET_ITEMS), { neighbours: BASELINE_NEIGHBOURS, shrink: 0 });
  const own = (user: number) => split.eventsBefore.get(user);
  return {
    popularity: (_user, excluded, k) => popular(_user, excluded, k),
    recentlyViewed: (user, excluded, k) => {
      const events = own(user);
      const list: number[] = [];
      const taken = new Set<number>();
      if (events) {
        for (const item of events.items) {
          if (list.length >= k) break;
          if (!taken.has(item) && !excluded.has(item)) list.push(item), taken.add(item);
        }
      }
      return filledFrom(list, byPopularity, excluded, k);
    },
    mostEngaged: (user, excluded, k) => {
      const events = own(user);
      const engagement = new Map<number, number>();
      if (events) events.items.forEach((item, n) => engagement.set(item, (engagement.get(item) ?? 0) + events.weights[n]));
      // Map order is first-touch order of a newest-first walk, so a stable sort keeps ties newest first.
      const list = [...engagement].filter(([item]) => !excluded.has(item)).sort((a, b) => b[1] - a[1]).map(([item]) => item);
      return filledFrom(list, byPopularity, excluded, k);
    },
    itemKnn: (user, excluded, k) => {
      const events = own(user);
      const scores = new Map<number, number>();
      if (events) {
        for (const item of new Set(events.items)) {
          const list = neighbours[item];
          if (!list) continue;
          for (let n = 0; n < list.ids.length; n++) scores.set(list.ids[n], (scores.get(list.ids[n]) ?? 0) + list.scores[n]);
        }
      }
      const list = [...scores].filter(([item]) => !excluded.has(item)).sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([item]) => item);
      return filledFrom(list, byPopularity, excluded, k);
    },
  };
}

const round = (value: number) => Math.round(value * 1e5) / 1e5;
function rounded<T extends object>(metrics: T): T {
  return Object.fromEntries(Object.entries(metrics).map(([key, value]) => [key, typeof value === 'number' ? round(value) : value])) as T;
}
const roundedDifference = (d: PairedDifference) => ({ difference: round(d.difference), low: round(d.low), high: round(d.high), level: d.level });

/** One measure (all held-out items, or new items only) of a model and its baselines on the same users. */
export interface MeasureSummary {
  users: number;
  model: RankingMetrics;
  baselines: Record<BaselineName, RankingMetrics>;
  /** The baseline with the highest recall@K on these users. */
  bestBaseline: BaselineName;
  /** The model minus each baseline, per user, with a 95 % paired bootstrap interval: recall@K and NDCG@K. */
  versus: Record<BaselineName, { recall: PairedDifference; ndcg: PairedDifference }>;
}

function measure(cases: readonly HeldOutUser[], k: number, itemCount: number, model: UserRecommender, baselines: Record<BaselineName, UserRecommender>): MeasureSummary & { perUser: PerUserRanking } {
  const evaluated = evaluateRanking(cases, (user, excluded) => model(user, excluded, k), k, itemCount);
  const baselineMetrics = {} as Record<BaselineName, ReturnType<typeof evaluateRanking>>;
  for (const name of BASELINES) baselineMetrics[name] = evaluateRanking(cases, (user, excluded) => baselines[name](user, excluded, k), k, itemCount);
  const bestBaseline = BASELINES.reduce((best, name) => (baselineMetrics[name].recall > baselineMetrics[best].recall ? name : best), BASELINES[0]);
  const versus = {} as MeasureSummary['versus'];
  for (const name of BASELINES) {
    versus[name] = {
      recall: pairedBootstrap(evaluated.perUser.recall, baselineMetrics[name].perUser.recall),
      ndcg: pairedBootstrap(evaluated.perUser.ndcg, baselineMetrics[name].perUser.ndcg),
    };
  }
  return { users: cases.length, model: evaluated, baselines: baselineMetrics, bestBaseline, versus, perUser: evaluated.perUser };
}

function storedMeasure(summary: MeasureSummary) {
  return {
    users: summary.users,
    model: rounded(summary.model),
    baselines: Object.fromEntries(BASELINES.map((name) => [name, rounded(summary.baselines[name])])),
    bestBaseline: summary.bestBaseline,
    versus: Object.fromEntries(BASELINES.map((name) => [name, { recall: roundedDifference(summary.versus[name].recall), ndcg: roundedDifference(summary.versus[name].ndcg) }])),
  };
}

/**
 * The activation rule of a ranking kind: which baseline it must beat, and how.
 * - `beat`: the model's recall@K must exceed the baseline's with the 95 % paired interval above 0;
 * - `match`: it must not be significantly worse (interval's upper bound ≥ 0): for POPULARITY, whose
 *   rival is a plain count of the same events.
 */
export interface ActivationRule {
  baseline: BaselineName;
  mode: 'beat' | 'match';
}

/** Whether a trained version may be activated automatically, and why (stored as metrics.evaluation.verdict). */
export interface Verdict {
  activate: boolean;
  reason: string;
}

export function verdictOf(summary: MeasureSummary, rule: ActivationRule): Verdict {
  const d = summary.versus[rule.baseline].recall;
  const interval = `recall@${summary.model.k} ${round(summary.model.recall)} vs ${round(summary.baselines[rule.baseline].recall)} for ${rule.baseline}, difference ${round(d.difference)} (95 % CI ${round(d.low)} to ${round(d.high)}, ${summary.users} held-out users)`;
  if (summary.users === 0) return { activate: false, reason: 'no held-out users to evaluate on: each user needs two or more weighted events' };
  if (rule.mode === 'beat') {
    return d.low > 0 ? { activate: true, reason: `significantly better than ${rule.baseline}: ${interval}` } : { activate: false, reason: `not significantly better than ${rule.baseline}: ${interval}` };
  }
  return d.high >= 0 ? { activate: true, reason: `no worse than ${rule.baseline}: ${interval}` } : { activate: false, reason: `significantly worse than ${rule.baseline}: ${interval}` };
}

/**
 * `metrics.evaluation` of every user-level ranking kind: the model and the four baselines on the
 * same held-out users (the per-user holdout of `splitUsers`), for every held-out item and for new
 * items only (discovery, with everything the user touched excluded), paired bootstrap intervals of
 * the differences, and the activation verdict under `rule` (on every held-out item). `extra` adds
 * kind-specific facts. With `activeConfiguration` (the kind's ACTIVE params, trained on the same
 * kept events) the verdict also requires beating it with the interval above zero. The older fields (`model`, `popularityBaseline`, `recallLiftOverBaseline`)
 * stay for clients that read them.
 */
export function evaluationSummary(split: UserSplit, k: number, model: UserRecommender, rule: ActivationRule, extra: Record<string, unknown> = {}, activeConfiguration: UserRecommender | null = null) {
  const baselines = baselineRecommenders(split);
  const all = measure(split.cases, k, split.trainedItemCount, model, baselines);
  const discovery = measure(split.discoveryCases, k, split.trainedItemCount, model, baselines);
  const popularity = all.baselines.popularity;
  let versusActive: { rivalRecall: number; difference: PairedDifference } | null = null;
  if (activeConfiguration) {
    const rival = evaluateRanking(split.cases, (user, excluded) => activeConfiguration(user, excluded, k), k, split.trainedItemCount);
    versusActive = { rivalRecall: rival.recall, difference: pairedBootstrap(all.perUser.recall, rival.perUser.recall) };
  }
  return {
    protocol: `${split.protocol}; metrics at K over the held-out users; intervals: 95 % paired bootstrap over users, 1000 resamples`,
    k,
    heldOutUsers: split.cases.length,
    model: rounded(all.model),
    popularityBaseline: rounded(popularity),
    recallLiftOverBaseline: popularity.recall > 0 ? round(all.model.recall / popularity.recall) : null,
    ndcgLiftOverBaseline: popularity.ndcg > 0 ? round(all.model.ndcg / popularity.ndcg) : null,
    heldOutItems: storedMeasure(all),
    newItemsOnly: storedMeasure(discovery),
    verdict: versusActive ? verdictAgainstActive(all, rule, versusActive) : verdictOf(all, rule),
    ...(versusActive ? { activeConfiguration: { recall: round(versusActive.rivalRecall), versus: { recall: roundedDifference(versusActive.difference) } } } : {}),
    ...extra,
  };
}

/** The rule's verdict, then: the new params must also beat the ACTIVE version's params on the same users. */
function verdictAgainstActive(summary: MeasureSummary, rule: ActivationRule, active: { rivalRecall: number; difference: PairedDifference }): Verdict {
  const first = verdictOf(summary, rule);
  if (!first.activate) return first;
  const d = active.difference;
  const figures = `recall@${summary.model.k} ${round(summary.model.recall)} vs ${round(active.rivalRecall)} for the ACTIVE version's params trained on the same data, difference ${round(d.difference)} (95 % CI ${round(d.low)} to ${round(d.high)})`;
  return d.low > 0 ? { activate: true, reason: `${first.reason}; and significantly better than the ACTIVE version's params: ${figures}` } : { activate: false, reason: `not significantly better than the ACTIVE version's params: ${figures}` };
}
