import { logDecayedPopularity, relativeScores, topIndices } from './popularity';

describe('logDecayedPopularity', () => {
  it('halves an event’s weight per half-life before asOf', () => {
    // item 0: weight 1 one half-life ago, weight 3 now → 0.5 + 3 = 3.5; item 1: weight 5 now; item 2: nothing.
    const logs = logDecayedPopularity(3, { items: [0, 1, 0], weights: [1, 5, 3], times: [0, 100, 100] }, 100, 100);
    expect(logs[0]).toBeCloseTo(Math.log2(3.5), 12);
    expect(logs[1]).toBeCloseTo(Math.log2(5), 12);
    expect(logs[2]).toBe(-Infinity);
    expect(topIndices(logs, 10)).toEqual([1, 0]);
    expect(topIndices(logs, 1)).toEqual([1]);
    expect(topIndices(logs, 10, (i) => i !== 1)).toEqual([0]);
    // Relative to the list's top: 3.5 / 5.
    expect(relativeScores(logs, [1, 0])[1]).toBeCloseTo(0.7, 12);
  });

  it('gives the same sums whatever the order of an item’s events (the newest need not come first)', () => {
    // Weights 2 (two half-lives ago), 4 (now), 8 (three half-lives ago): 0.5 + 4 + 1 = 5.5.
    const logs = logDecayedPopularity(1, { items: [0, 0, 0], weights: [2, 4, 8], times: [200, 400, 100] }, 100, 400);
    expect(logs[0]).toBeCloseTo(Math.log2(5.5), 12);
  });

  it('without a half-life counts weighted events', () => {
    const logs = logDecayedPopularity(2, { items: [0, 0, 1], weights: [1, 2, 2], times: [0, 1e12, 5] }, null, 1e12);
    expect(logs[0]).toBeCloseTo(Math.log2(3), 12);
    expect(logs[1]).toBeCloseTo(1, 12);
  });

  it('keeps the order of items thousands of half-lives old, where 2^-age underflows even in float64', () => {
    const hour = 3_600_000;
    // Ten years at a 1-hour half-life: item 0 was touched 87 600 half-lives ago (weight 1),
    // item 1 one half-life before that (weight 3: 3 · 2⁻¹ = 1.5 times item 0's weight).
    const asOf = 87_600 * hour;
    const logs = logDecayedPopularity(2, { items: [0, 1], weights: [1, 3], times: [0, -hour] }, hour, asOf);
    expect(logs[0]).toBeCloseTo(-87_600, 9);
    expect(logs[1]).toBeCloseTo(-87_601 + Math.log2(3), 9);
    expect(topIndices(logs, 2)).toEqual([1, 0]);
    const scores = relativeScores(logs, [1, 0]);
    expect(scores[0]).toBe(1);
    expect(scores[1]).toBeCloseTo(1 / 1.5, 9); // logs near −87 600 keep about 11 decimals
  });

  it('breaks ties by the lower index', () => {
    expect(topIndices([2, 5, 5, 2], 4)).toEqual([1, 2, 0, 3]);
    expect(topIndices([-Infinity, 0, -3], 4)).toEqual([1, 2]);
  });
});
