import { pairedBootstrap } from '../ml/evaluation';
import { itemNeighbours } from './item-similarity';
import type { ItemEventLog } from './item-events';

/**
 * Next-item evaluation of session recommenders, GRU4Rec's protocol (Hidasi et al., "Session-based
 * recommendations with recurrent neural networks", ICLR 2016): the sessions that start at or after
 * the split instant are the test sessions; items that no training session contains are removed
 * from them, and sessions left with fewer than two items are dropped; in each test session every
 * prefix predicts the item that follows it. Recall@k (hit rate, HR@k) is the share of predictions
 * whose true next item ranks within the top k, MRR@k the mean of 1 / rank (0 beyond k). SESSION_GRU
 * and SESSION_KNN both evaluate through this module, with the same two baselines, so their figures
 * compare.
 */

/** Sessions as item sequences (consecutive repeats collapsed), with each session's first and last event times (epoch ms). */
export interface SessionSequences {
  items: number[][];
  starts: number[];
  ends: number[];
}

/**
 * Sessions as item id sequences (consecutive repeats collapsed), in the order of their first event,
 * with their first and last event times. A session's events need not be adjacent in the log (a
 * user's session ids may interleave), so they are gathered by session number.
 */
export function sessionSequences(log: ItemEventLog): SessionSequences {
  const items: number[][] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const sequenceOf = new Int32Array(log.sessionCount).fill(-1);
  for (let n = 0; n < log.items.length; n++) {
    const session = log.sessions[n];
    if (sequenceOf[session] < 0) {
      sequenceOf[session] = items.length;
      items.push([]);
      starts.push(log.times[n]);
      ends.push(log.times[n]);
    }
    const at = sequenceOf[session];
    const current = items[at];
    if (current[current.length - 1] !== log.items[n]) current.push(log.items[n]);
    if (log.times[n] > ends[at]) ends[at] = log.times[n];
  }
  return { items, starts, ends };
}

/** The sessions on either side of the split, as the protocol defines them. */
export interface NextItemSplit {
  splitAt: Date;
  /** Sessions starting before the split (every length), in the order of their first event. */
  train: SessionSequences;
  /** Sessions starting at or after it, less items no training session has; only those of two or more items left. */
  test: number[][];
}

/** Splits a log's sessions by their start, GRU4Rec's way (see the module comment). */
export function nextItemSplit(log: ItemEventLog, splitAt: Date): NextItemSplit {
  const all = sessionSequences(log);
  const split = splitAt.getTime();
  const train: SessionSequences = { items: [], starts: [], ends: [] };
  const later: number[][] = [];
  all.items.forEach((session, n) => {
    if (all.starts[n] < split) {
      train.items.push(session);
      train.starts.push(all.starts[n]);
      train.ends.push(all.ends[n]);
    } else later.push(session);
  });
  const known = new Set<number>();
  for (const session of train.items) for (const item of session) known.add(item);
  const test: number[][] = [];
  for (const session of later) {
    // Removing an item can make two equal items adjacent; they collapse as repeats do.
    const kept: number[] = [];
    for (const item of session) if (known.has(item) && kept[kept.length - 1] !== item) kept.push(item);
    if (kept.length >= 2) test.push(kept);
  }
  return { splitAt, train, test };
}

/** Every prediction of the test sessions: the prefix session[0 … t) and the item at t, for t ≥ 1. */
export function* nextItemCases(test: readonly number[][]): Generator<{ prefix: number[]; target: number }> {
  for (const session of test) for (let t = 1; t < session.length; t++) yield { prefix: session.slice(0, t), target: session[t] };
}

/** A miss: the true next item was not ranked at all. */
export const UNRANKED = Number.MAX_SAFE_INTEGER;

/**
 * The rank (1 = best) of `target` in a score map, ordered as serving orders it: score descending,
 * ties to the lower item id. An item without a positive score is not recommended: UNRANKED.
 */
export function rankInScores(scores: ReadonlyMap<number, number>, target: number): number {
  const score = scores.get(target);
  if (score === undefined || !(score > 0)) return UNRANKED;
  let rank = 1;
  for (const [item, other] of scores) if (other > score || (other === score && item < target)) rank++;
  return rank;
}

export interface NextItemMetrics {
  predictions: number;
  /** Recall@k = HR@k: the share of predictions with the true next item in the top k. */
  recall: number;
  /** MRR@k: the mean reciprocal rank of the true next item, 0 beyond k. */
  mrr: number;
}

/** Recall@k and MRR@k from the rank (1 = best) of each true next item. */
export function nextItemMetrics(ranks: readonly number[], k: number): NextItemMetrics {
  const n = ranks.length || 1;
  let hits = 0;
  let reciprocal = 0;
  for (const rank of ranks) {
    if (rank > k) continue;
    hits++;
    reciprocal += 1 / rank;
  }
  return { predictions: ranks.length, recall: hits / n, mrr: reciprocal / n };
}

/**
 * The two baselines on the same predictions: popularity (items by their clicks in the training
 * sessions, ties to the lower id) and item-kNN on the last item of the prefix (cosine over the
 * training sessions as binary baskets, no shrinkage; its top k neighbours in order).
 */
export function nextItemBaselines(split: NextItemSplit, k: number): { popularity: NextItemMetrics; itemKnnLastItem: NextItemMetrics; ranks: { popularity: number[]; itemKnnLastItem: number[] } } {
  const clicks = new Map<number, number>();
  for (const session of split.train.items) for (const item of session) clicks.set(item, (clicks.get(item) ?? 0) + 1);
  const byClicks = [...clicks].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([item]) => item);
  const popularityRank = new Map(byClicks.map((item, n) => [item, n + 1]));
  // Dense indices for the similarity: the popularity order serves.
  const baskets = split.train.items.map((session) => {
    const distinct = [...new Set(session)].map((item) => popularityRank.get(item)! - 1);
    return { items: distinct, weights: distinct.map(() => 1) };
  });
  const neighbours = itemNeighbours(byClicks.length, baskets, { neighbours: k, shrink: 0 });
  const popularity: number[] = [];
  const itemKnn: number[] = [];
  for (const { prefix, target } of nextItemCases(split.test)) {
    popularity.push(popularityRank.get(target) ?? UNRANKED);
    const list = neighbours[popularityRank.get(prefix[prefix.length - 1])! - 1];
    const position = list.ids.indexOf(popularityRank.get(target)! - 1);
    itemKnn.push(position < 0 ? UNRANKED : position + 1);
  }
  return { popularity: nextItemMetrics(popularity, k), itemKnnLastItem: nextItemMetrics(itemKnn, k), ranks: { popularity, itemKnnLastItem: itemKnn } };
}

/**
 * Whether a session model may be activated automatically: its recall@k must beat the better
 * baseline's (by recall@k) with a 95 % paired bootstrap interval of the per-prediction hit
 * difference above zero (`pairedBootstrap`; predictions of one session are resampled
 * independently, which makes the interval a little narrower than a per-session one would be).
 */
export function nextItemVerdict(modelRanks: readonly number[], baselines: ReturnType<typeof nextItemBaselines>, k: number): { activate: boolean; reason: string } {
  if (modelRanks.length === 0) return { activate: false, reason: 'no held-out predictions to evaluate on: no session after the split has two or more known items' };
  const name = baselines.itemKnnLastItem.recall >= baselines.popularity.recall ? 'itemKnnLastItem' : 'popularity';
  const hits = (ranks: readonly number[]) => Float64Array.from(ranks, (rank) => (rank <= k ? 1 : 0));
  const d = pairedBootstrap(hits(modelRanks), hits(baselines.ranks[name]));
  const figures = `next-item recall@${k} difference ${round(d.difference)} against ${name} (95 % CI ${round(d.low)} to ${round(d.high)}, ${modelRanks.length} predictions)`;
  return d.low > 0 ? { activate: true, reason: `significantly better than its best baseline: ${figures}` } : { activate: false, reason: `not significantly better than its best baseline: ${figures}` };
}

const round = (value: number) => Math.round(value * 1e5) / 1e5;

/**
 * `metrics.evaluation` of a session kind: the split, the counts, the model and both baselines as
 * { recall, mrr } at k, and the model's recall over popularity's.
 */
export function nextItemSummary(split: NextItemSplit, k: number, model: NextItemMetrics, baselines: ReturnType<typeof nextItemBaselines>, extra: Record<string, unknown> = {}) {
  const { popularity, itemKnnLastItem } = baselines;
  return {
    splitAt: split.splitAt.toISOString(),
    protocol: 'GRU4Rec next-item: every prefix of each session starting after the split predicts the next item',
    k,
    heldOutSessions: split.test.length,
    predictions: model.predictions,
    model: { recall: round(model.recall), mrr: round(model.mrr) },
    popularityBaseline: { recall: round(popularity.recall), mrr: round(popularity.mrr) },
    itemKnnLastItemBaseline: { recall: round(itemKnnLastItem.recall), mrr: round(itemKnnLastItem.mrr) },
    recallLiftOverBaseline: popularity.recall > 0 ? round(model.recall / popularity.recall) : null,
    ...extra,
  };
}
