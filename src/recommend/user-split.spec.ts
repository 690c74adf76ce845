import { ITEM_EVENT_TYPES, ItemEventLog, visitNumbers, weightsByCode, DEFAULT_EVENT_WEIGHTS } from './item-events';
import { perUserHoldout, splitUsers } from './user-split';
import { baselineRecommenders, evaluationSummary, verdictOf } from './ranking-summary';

const MIN = 60_000;
type Type = (typeof ITEM_EVENT_TYPES)[number];

/** A (user, time)-ordered log from [user, item, type, minute] rows. */
function logOf(rows: [number, number, Type, number][]): ItemEventLog {
  const users = Int32Array.from(rows, (row) => row[0]);
  const times = Float64Array.from(rows, (row) => row[3] * MIN);
  const { sessions, count } = visitNumbers(users, () => null, times);
  return { users, items: Int32Array.from(rows, (row) => row[1]), types: Uint8Array.from(rows, (row) => ITEM_EVENT_TYPES.indexOf(row[2])), times, sessions, sessionCount: count };
}

const weights = weightsByCode(DEFAULT_EVENT_WEIGHTS);

describe('per-user holdout', () => {
  it("holds out each user's latest share of events, at least one and never all", () => {
    const log = logOf([
      // user 1: five events; 20 % of 5 = 1 held out (the minute-40 one)
      [1, 10, 'view', 0], [1, 11, 'view', 10], [1, 12, 'view', 20], [1, 10, 'cart', 30], [1, 13, 'view', 40],
      // user 2: two events; round(0.4) = 0, so at least one: the later one
      [2, 10, 'view', 1000], [2, 14, 'view', 1001],
      // user 3: one event: nothing to keep and hold out, so not evaluated
      [3, 10, 'view', 5],
    ]);
    expect(Array.from(perUserHoldout(log, weights, 0.2))).toEqual([0, 0, 0, 0, 1, 0, 1, 0]);
    // 60 % of 5 = 3 held out; of 2, at most 1 (one must stay).
    expect(Array.from(perUserHoldout(log, weights, 0.6))).toEqual([0, 0, 1, 1, 1, 0, 1, 0]);
  });

  it('evaluates users however early their activity lies, which a global time split would not', () => {
    // User 2 is active only months before user 1: a split at the latest 20 % of all events leaves them out.
    const log = logOf([
      [1, 10, 'view', 100_000], [1, 11, 'view', 100_001], [1, 12, 'view', 100_002], [1, 13, 'view', 100_003], [1, 14, 'view', 100_004],
      [2, 10, 'view', 0], [2, 11, 'view', 1],
    ]);
    const split = splitUsers(log, 0.2, weights, 20);
    expect(split.cases.map((c) => c.user).sort()).toEqual([1, 2]);
  });

  it('gives every held-out item as relevant, new items only to the discovery cases, and excludes purchases', () => {
    const log = logOf([
      [1, 10, 'view', 0], [1, 11, 'purchase', 1], [1, 12, 'view', 2], [1, 13, 'view', 3],
      // held out (40 % of 6 = 2.4 → 2): a return to 10 and a new item 14
      [1, 10, 'view', 4], [1, 14, 'view', 5],
      // user 2 only comes back to what they saw: no discovery case
      [2, 10, 'view', 0], [2, 10, 'view', 9],
    ]);
    const split = splitUsers(log, 0.4, weights, 20);
    const id = (item: number) => split.items.get(item)!;
    const one = split.cases.find((c) => c.user === 1)!;
    expect([...one.relevant].sort()).toEqual([id(10), id(14)].sort());
    expect([...one.excluded]).toEqual([id(11)]);
    expect(split.discoveryCases.map((c) => c.user)).toEqual([1]);
    expect([...split.discoveryCases[0].relevant]).toEqual([id(14)]);
    expect([...split.discoveryCases[0].excluded].sort()).toEqual([id(10), id(11), id(12), id(13)].sort());
    // Items seen only in held-out events come after the trained ones.
    expect(id(14)).toBeGreaterThanOrEqual(split.trainedItemCount);
  });
});

describe('baselines', () => {
  // Kept events (20 % holdout leaves each user's last event out):
  // user 1: 20 (view), 21 (view ×2), 22 (cart)  — held out: 23
  // user 2: 20, 21, 24                            — held out: 21
  // user 3: 21, 24                                — held out: 22
  const log = logOf([
    [1, 20, 'view', 0], [1, 21, 'view', 1], [1, 21, 'view', 2], [1, 22, 'cart', 3], [1, 23, 'view', 4],
    [2, 20, 'view', 0], [2, 21, 'view', 1], [2, 24, 'view', 2], [2, 21, 'view', 3],
    [3, 21, 'view', 0], [3, 24, 'view', 1], [3, 22, 'view', 2],
  ]);
  const split = splitUsers(log, 0.2, weights, 20);
  const ids = (list: readonly number[]) => list.map((i) => split.items.ids[i]);
  const baselines = baselineRecommenders(split);
  const none = new Set<number>();

  it('ranks by distinct users, by recency and by engagement', () => {
    // Distinct users among kept events: 21 by 3, 20 and 24 by 2 (20 seen first), 22 by 1.
    expect(ids(baselines.popularity(1, none, 4))).toEqual([21, 20, 24, 22]);
    // User 1 newest first: 22, 21, 20; then filled by popularity: 24.
    expect(ids(baselines.recentlyViewed(1, none, 4))).toEqual([22, 21, 20, 24]);
    // User 1's summed weights: 22 cart 3, 21 two views 2, 20 one view 1.
    expect(ids(baselines.mostEngaged(1, none, 3))).toEqual([22, 21, 20]);
  });

  it('scores plain item-kNN by summed cosine over the user\'s items', () => {
    // Binary user vectors over users 1, 2, 3: 20 = (1,1,0), 21 = (1,1,1), 22 = (1,0,0), 24 = (0,1,1).
    // User 3 holds 21 and 24: 20 gets cos(20,21) + cos(20,24) = 2/√6 + 1/2 = 1.3165;
    // 22 gets 1/√3 + 0 = 0.5774; 21 gets cos(21,24) = 2/√6 = 0.8165 and 24 gets 0.8165 (tie: lower index first).
    const list = ids(baselines.itemKnn(3, none, 4));
    expect(list[0]).toBe(20);
    expect(list.slice(1, 3).sort()).toEqual([21, 24]);
    expect(list[3]).toBe(22);
  });

  it('compares a model with every baseline on the same users and gives a verdict', () => {
    // An oracle that lists each user's held-out items first beats popularity on every user.
    const oracle = (user: number, excluded: ReadonlySet<number>, k: number) => [...split.cases.find((c) => c.user === user)!.relevant].filter((i) => !excluded.has(i)).slice(0, k);
    const summary = evaluationSummary(split, 2, oracle, { baseline: 'popularity', mode: 'beat' });
    expect(summary.heldOutUsers).toBe(3);
    expect(summary.model.recall).toBe(1);
    // Popularity's top 2 for everyone is [21, 20]: user 2's held-out 21 is a hit, users 1 (23) and 3 (22) miss.
    expect(summary.popularityBaseline.recall).toBeCloseTo(1 / 3, 5);
    expect(summary.heldOutItems.versus.popularity.recall.difference).toBeCloseTo(2 / 3, 5);
    // Three users: two resampled differences of 1 and one of 0; an all-zero resample is possible but rare.
    expect(summary.verdict.reason).toMatch(/popularity/);
  });

  it('activates only when the interval is above zero (beat) or not below it (match)', () => {
    const base = { users: 50, model: { k: 20, recall: 0.3 } as never, baselines: { popularity: { recall: 0.2 } } as never, bestBaseline: 'popularity' as const };
    const versus = (low: number, high: number) => ({ popularity: { recall: { difference: (low + high) / 2, low, high, level: 0.95, resamples: 1000 } } }) as never;
    expect(verdictOf({ ...base, versus: versus(0.01, 0.2) }, { baseline: 'popularity', mode: 'beat' }).activate).toBe(true);
    expect(verdictOf({ ...base, versus: versus(-0.01, 0.2) }, { baseline: 'popularity', mode: 'beat' }).activate).toBe(false);
    expect(verdictOf({ ...base, versus: versus(-0.01, 0.2) }, { baseline: 'popularity', mode: 'match' }).activate).toBe(true);
    expect(verdictOf({ ...base, versus: versus(-0.2, -0.01) }, { baseline: 'popularity', mode: 'match' }).activate).toBe(false);
  });
});
