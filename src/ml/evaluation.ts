import { catalogueCoverage, hitAtK, ndcgAtK, precisionAtK, recallAtK, reciprocalRank } from './metrics';

/**
 * The evaluation harness every model shares: train on events before a split instant T, then ask
 * about what happened after it. Ranking models are scored per user with the metrics module and
 * compared with a popularity baseline on the same split.
 */

/**
 * T that holds out the latest `holdoutFraction` of the events: the time (ms) of the event at rank
 * ⌊(1 − holdoutFraction)·n⌋ in time order (0-based, at least 1), so events at or after T are held
 * out. A share of the events rather than of the time span: one stray event months before the rest
 * (a test event, a late import of old data) does not move the split into the quiet months before
 * the real traffic, where "before the split" would hold almost nothing. `times` in ms, any order;
 * throws RangeError when there are fewer than two.
 */
export function eventQuantileSplit(times: ArrayLike<number>, holdoutFraction: number): number {
  if (times.length < 2) throw new RangeError('the training range holds fewer than two events');
  const sorted = Float64Array.from(times).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(1, Math.floor((1 - holdoutFraction) * sorted.length)))];
}

/** One user to evaluate: what they interacted with after T, and what must not be recommended to them. */
export interface HeldOutUser {
  user: number;
  relevant: ReadonlySet<number>;
  excluded: ReadonlySet<number>;
}

export interface RankingMetrics {
  k: number;
  users: number;
  recall: number;
  precision: number;
  ndcg: number;
  mrr: number;
  hitRate: number;
  coverage: number;
}

/** Averages the ranking metrics at k over users; `recommend` returns a user's list, best first. */
export function evaluateRanking(
  users: readonly HeldOutUser[],
  recommend: (user: number, excluded: ReadonlySet<number>) => readonly number[],
  k: number,
  catalogueSize: number,
): RankingMetrics {
  const lists: (readonly number[])[] = [];
  const sums = { recall: 0, precision: 0, ndcg: 0, mrr: 0, hitRate: 0 };
  for (const heldOut of users) {
    const list = recommend(heldOut.user, heldOut.excluded).slice(0, k);
    lists.push(list);
    sums.recall += recallAtK(list, heldOut.relevant, k);
    sums.precision += precisionAtK(list, heldOut.relevant, k);
    sums.ndcg += ndcgAtK(list, heldOut.relevant, k);
    sums.mrr += reciprocalRank(list, heldOut.relevant);
    sums.hitRate += hitAtK(list, heldOut.relevant, k);
  }
  const n = users.length || 1;
  return {
    k,
    users: users.length,
    recall: sums.recall / n,
    precision: sums.precision / n,
    ndcg: sums.ndcg / n,
    mrr: sums.mrr / n,
    hitRate: sums.hitRate / n,
    coverage: catalogueCoverage(lists, catalogueSize, k),
  };
}

/**
 * The popularity baseline: items by how many distinct users interacted with them before T, the
 * same list for everyone minus each user's excluded items.
 */
export function popularityRecommender(pairItems: ArrayLike<number>): (user: number, excluded: ReadonlySet<number>, k?: number) => number[] {
  const users = new Map<number, number>();
  for (let i = 0; i < pairItems.length; i++) users.set(pairItems[i], (users.get(pairItems[i]) ?? 0) + 1);
  const ranked = [...users].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([item]) => item);
  return (_user, excluded, k = ranked.length) => {
    const list: number[] = [];
    for (const item of ranked) {
      if (list.length >= k) break;
      if (!excluded.has(item)) list.push(item);
    }
    return list;
  };
}
