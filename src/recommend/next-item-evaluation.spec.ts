import { ITEM_EVENT_TYPES, ItemEventLog, visitNumbers } from './item-events';
import { nextItemBaselines, nextItemCases, nextItemMetrics, nextItemSplit, nextItemVerdict, rankInScores, UNRANKED } from './next-item-evaluation';

const MIN = 60_000;

/** A (user, time)-ordered log: [user, session id, item, minute]. */
function logOf(rows: [number, string, number, number][]): ItemEventLog {
  const users = Int32Array.from(rows, (row) => row[0]);
  const times = Float64Array.from(rows, (row) => row[3] * MIN);
  const { sessions, count } = visitNumbers(users, (n) => rows[n][1], times);
  return { users, items: Int32Array.from(rows, (row) => row[2]), types: new Uint8Array(rows.length).fill(ITEM_EVENT_TYPES.indexOf('view')), times, sessions, sessionCount: count };
}

describe('GRU4Rec next-item protocol', () => {
  it('tests the sessions starting after the split, less items unseen before it, two items or more', () => {
    const log = logOf([
      [1, 's1', 1, 0],
      [1, 's1', 2, 1],
      [2, 's2', 1, 2],
      [2, 's2', 3, 3],
      [2, 's2', 3, 11], // still s2: a training session, though this click falls after the split
      [3, 's3', 1, 10],
      [3, 's3', 5, 11], // 5 is unknown before the split: removed
      [3, 's3', 2, 12],
      [4, 's4', 5, 13],
      [4, 's4', 1, 14], // [1] once 5 is removed: dropped
      [5, 's5', 3, 15],
      [5, 's5', 5, 16],
      [5, 's5', 3, 17], // [3, 3, 1] collapses to [3, 1]
      [5, 's5', 1, 18],
    ]);
    const split = nextItemSplit(log, new Date(10 * MIN));
    expect(split.train).toEqual({ items: [[1, 2], [1, 3]], starts: [0, 2 * MIN], ends: [1 * MIN, 11 * MIN] });
    expect(split.test).toEqual([
      [1, 2],
      [3, 1],
    ]);
    expect([...nextItemCases([[1, 2, 3]])]).toEqual([
      { prefix: [1], target: 2 },
      { prefix: [1, 2], target: 3 },
    ]);
  });

  it('ranks by score, ties to the lower id, and never ranks an unscored item', () => {
    const scores = new Map([
      [1, 0.75],
      [3, 1.75],
      [5, 0.5],
      [2, 0.5],
      [4, 0.5],
      [6, 0],
    ]);
    expect(rankInScores(scores, 3)).toBe(1);
    expect(rankInScores(scores, 4)).toBe(4); // below 3 and 1, after 2 (tie, lower id)
    expect(rankInScores(scores, 5)).toBe(5);
    expect(rankInScores(scores, 6)).toBe(UNRANKED);
    expect(rankInScores(scores, 9)).toBe(UNRANKED);
  });

  it('computes recall@k and MRR@k from ranks', () => {
    // Ranks 1, 3, 25 and a miss at k = 20: two hits of four; (1 + 1/3) / 4.
    const metrics = nextItemMetrics([1, 3, 25, UNRANKED], 20);
    expect(metrics.predictions).toBe(4);
    expect(metrics.recall).toBe(0.5);
    expect(metrics.mrr).toBeCloseTo(1 / 3, 12);
  });

  it('scores popularity and item-kNN on the last item on the same predictions', () => {
    // Training sessions [1,2] [1,2] [1,3] [4]: clicks 1:3, 2:2, 3:1, 4:1, so popularity ranks 1, 2, 3, 4.
    // Cosine over sessions: cos(1,2) = 2/√(3·2) ≈ 0.82, cos(1,3) = 1/√3 ≈ 0.58; 2's only neighbour is 1.
    // Test [1, 2, 3]: ([1] → 2) popularity rank 2, kNN rank 1; ([1, 2] → 3) popularity rank 3, kNN miss.
    const split = {
      splitAt: new Date(0),
      train: { items: [[1, 2], [1, 2], [1, 3], [4]], starts: [0, 0, 0, 0], ends: [0, 0, 0, 0] },
      test: [[1, 2, 3]],
    };
    const { popularity, itemKnnLastItem } = nextItemBaselines(split, 20);
    expect(popularity.recall).toBe(1);
    expect(popularity.mrr).toBeCloseTo((1 / 2 + 1 / 3) / 2, 12);
    expect(itemKnnLastItem.recall).toBe(0.5);
    expect(itemKnnLastItem.mrr).toBe(0.5);
    // At k = 1 nothing of popularity's is on top; the kNN's first hit stays.
    expect(nextItemBaselines(split, 1).popularity.recall).toBe(0);
    expect(nextItemBaselines(split, 1).itemKnnLastItem.recall).toBe(0.5);
  });
});

describe('session model verdict', () => {
  const metrics = (ranks: number[]) => ({ predictions: ranks.length, recall: ranks.filter((r) => r <= 2).length / ranks.length, mrr: 0 });
  const baselinesOf = (popularity: number[], itemKnnLastItem: number[]) => ({ popularity: metrics(popularity), itemKnnLastItem: metrics(itemKnnLastItem), ranks: { popularity, itemKnnLastItem } });

  it('activates when the model hits where the better baseline misses, on enough predictions', () => {
    // 40 predictions: the model ranks every target first; item-kNN (the better baseline) finds half,
    // popularity none. Per-prediction differences are 1 or 0, half each; a resample of 40 with no
    // 1 at all has probability 2^−40, so the interval is well above 0.
    const model = new Array(40).fill(1);
    const verdict = nextItemVerdict(model, baselinesOf(new Array(40).fill(99), Array.from({ length: 40 }, (_, n) => (n % 2 ? 1 : 99))), 2);
    expect(verdict.activate).toBe(true);
    expect(verdict.reason).toMatch(/^significantly better than its best baseline: next-item recall@2 difference 0.5 against itemKnnLastItem/);
  });

  it('refuses a model that only ties its best baseline', () => {
    const same = [1, 99, 1, 99];
    const verdict = nextItemVerdict(same, baselinesOf([99, 99, 99, 99], same), 2);
    expect(verdict).toEqual({ activate: false, reason: 'not significantly better than its best baseline: next-item recall@2 difference 0 against itemKnnLastItem (95 % CI 0 to 0, 4 predictions)' });
    expect(nextItemVerdict([], baselinesOf([], []), 2).activate).toBe(false);
  });
});
