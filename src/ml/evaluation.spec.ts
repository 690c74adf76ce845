import { evaluateRanking, eventQuantileSplit, pairedBootstrap, popularityRecommender, twoSampleBootstrap } from './evaluation';

describe('evaluation harness', () => {
  it('holds out the latest share of the events, whatever their order', () => {
    // Ten events at t = 1…10: 20 % held out leaves 8 before, so T is the 9th time.
    expect(eventQuantileSplit([10, 3, 7, 1, 9, 2, 8, 4, 6, 5], 0.2)).toBe(9);
    expect(eventQuantileSplit([1, 2], 0.5)).toBe(2); // at least one event on each side
    expect(eventQuantileSplit([1, 2], 0.01)).toBe(2);
    expect(() => eventQuantileSplit([5], 0.2)).toThrow(RangeError);
  });

  it('keeps the split among the events when one stray event lies months before them', () => {
    const day = 86_400_000;
    const traffic = Array.from({ length: 1000 }, (_, n) => 300 * day + (n * 14 * day) / 1000); // 14 days of traffic
    const split = eventQuantileSplit([0, ...traffic], 0.2); // a stray event 300 days earlier
    // A share of the span would put the split 60 days before the traffic; a share of the events keeps
    // it among them: 1,001 events, rank ⌊0.8 · 1001⌋ = 800, which is traffic[799] after the stray one (day 311.2).
    expect(split).toBe(traffic[799]);
  });

  it('ranks by distinct users and skips excluded items', () => {
    // Item 4 by users a, b, c; item 2 by a, b; item 9 by c.
    const popular = popularityRecommender([4, 2, 4, 2, 4, 9]);
    expect(popular(0, new Set())).toEqual([4, 2, 9]);
    expect(popular(0, new Set([4]), 2)).toEqual([2, 9]);
  });

  it('averages per-user metrics and measures coverage over all lists', () => {
    const lists = new Map([
      [1, [10, 11]],
      [2, [12, 10]],
    ]);
    const metrics = evaluateRanking(
      [
        { user: 1, relevant: new Set([11]), excluded: new Set() }, // hit at rank 2
        { user: 2, relevant: new Set([99]), excluded: new Set() }, // miss
      ],
      (user) => lists.get(user)!,
      2,
      6,
    );
    // User 1: recall 1, precision 1/2, NDCG (1/log2 3) / 1 = 0.63093, RR 1/2; user 2: all 0.
    expect(metrics.users).toBe(2);
    expect(metrics.recall).toBeCloseTo(0.5, 12);
    expect(metrics.precision).toBeCloseTo(0.25, 12);
    expect(metrics.ndcg).toBeCloseTo(0.63093 / 2, 5);
    expect(metrics.mrr).toBeCloseTo(0.25, 12);
    expect(metrics.hitRate).toBeCloseTo(0.5, 12);
    // Items 10, 11, 12 of a 6-item catalogue.
    expect(metrics.coverage).toBeCloseTo(0.5, 12);
  });
});

describe('paired bootstrap', () => {
  it('gives a zero-width interval when every user differs by the same amount', () => {
    const d = pairedBootstrap([0.5, 0.2, 0.9], [0.4, 0.1, 0.8]);
    expect(d.difference).toBeCloseTo(0.1, 12);
    expect(d.low).toBeCloseTo(0.1, 12);
    expect(d.high).toBeCloseTo(0.1, 12);
  });

  it('covers the mean difference and stays within the range of the per-user differences', () => {
    // Differences 1, 0, 0, 0: mean 0.25; a resampled mean lies in [0, 1].
    const d = pairedBootstrap([1, 0, 0, 0], [0, 0, 0, 0], { resamples: 2000, seed: 7 });
    expect(d.difference).toBe(0.25);
    expect(d.low).toBeGreaterThanOrEqual(0);
    expect(d.low).toBeLessThanOrEqual(0.25);
    expect(d.high).toBeGreaterThanOrEqual(0.25);
    expect(d.high).toBeLessThanOrEqual(1);
    // P(no 1 among four draws) = (3/4)^4 = 0.316 > 2.5 %, so the lower bound is 0.
    expect(d.low).toBe(0);
  });

  it('approaches the normal interval on many users: mean ± 1.96 · sd / √n', () => {
    // 400 users, differences alternating 0 and 1: mean 0.5, sd 0.5, so ± 1.96 · 0.5 / 20 = ± 0.049.
    const a = Array.from({ length: 400 }, (_, n) => n % 2);
    const d = pairedBootstrap(a, new Array(400).fill(0), { resamples: 4000, seed: 3 });
    expect(d.low).toBeGreaterThan(0.5 - 0.049 - 0.01);
    expect(d.low).toBeLessThan(0.5 - 0.049 + 0.01);
    expect(d.high).toBeGreaterThan(0.5 + 0.049 - 0.01);
    expect(d.high).toBeLessThan(0.5 + 0.049 + 0.01);
  });

  it('refuses arrays of different lengths', () => {
    expect(() => pairedBootstrap([1], [1, 2])).toThrow(RangeError);
  });
});

describe('two-sample bootstrap', () => {
  it('gives zero-width intervals when every unit of a group has the same value', () => {
    const d = twoSampleBootstrap([[0.3, 0.3, 0.3], [1, 1, 1]], [[0.1, 0.1], [2, 2]]);
    expect(d.meanA).toEqual([0.3, 1]);
    expect(d.difference[0]).toBeCloseTo(0.2, 12);
    expect(d.low[0]).toBeCloseTo(0.2, 12);
    expect(d.high[0]).toBeCloseTo(0.2, 12);
    expect([d.difference[1], d.low[1], d.high[1]]).toEqual([-1, -1, -1]);
  });

  it('approaches Welch’s normal interval on many units: Δ ± 1.96 · √(sa²/na + sb²/nb)', () => {
    // a: 400 units alternating 0 and 1 (mean 0.5, sd 0.5); b: 100 units, a quarter of them 1
    // (mean 0.25, sd √(0.25 · 0.75) = 0.433). Half-width 1.96 · √(0.25/400 + 0.1875/100) = 0.098.
    const a = Array.from({ length: 400 }, (_, n) => n % 2);
    const b = Array.from({ length: 100 }, (_, n) => (n % 4 === 0 ? 1 : 0));
    const d = twoSampleBootstrap([a], [b], { resamples: 4000, seed: 5 });
    expect(d.difference[0]).toBeCloseTo(0.25, 12);
    expect(d.low[0]).toBeGreaterThan(0.25 - 0.098 - 0.012);
    expect(d.low[0]).toBeLessThan(0.25 - 0.098 + 0.012);
    expect(d.high[0]).toBeGreaterThan(0.25 + 0.098 - 0.012);
    expect(d.high[0]).toBeLessThan(0.25 + 0.098 + 0.012);
  });

  it('refuses an empty group and measures of unequal length', () => {
    expect(() => twoSampleBootstrap([[]], [[1]])).toThrow(RangeError);
    expect(() => twoSampleBootstrap([[1, 2], [1]], [[1], [1]])).toThrow(RangeError);
  });
});
