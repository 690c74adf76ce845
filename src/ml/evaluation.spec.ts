import { evaluateRanking, popularityRecommender, splitInstant } from './evaluation';

describe('evaluation harness', () => {
  it('holds out the last fraction of the range', () => {
    expect(splitInstant(new Date('2026-01-01T00:00:00Z'), new Date('2026-01-11T00:00:00Z'), 0.2).toISOString()).toBe('2026-01-09T00:00:00.000Z');
    expect(() => splitInstant(new Date(5), new Date(5), 0.2)).toThrow(/empty/);
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
