import { historyFromEvents, projectIntoFactors, scoreFromNeighbours, solveSymmetric } from './fold-in';

describe('scoreFromNeighbours', () => {
  it('sums neighbour similarities weighted by event weight and recency', () => {
    const lists = new Map([
      [0, { ids: [2, 3], scores: [0.5, 0.2] }],
      [1, { ids: [2], scores: [1] }],
    ]);
    // Most recent first: item 0 (weight 1, position 0), item 1 (weight 3, position 1, decay 0.5).
    const scores = scoreFromNeighbours([{ item: 0, weight: 1 }, { item: 1, weight: 3 }], (item) => lists.get(item), 0.5);
    expect(scores.get(2)).toBeCloseTo(1 * 0.5 + 3 * 0.5 * 1, 10); // 2.0
    expect(scores.get(3)).toBeCloseTo(0.2, 10);
    expect(scores.size).toBe(2);
  });
});

describe('projectIntoFactors', () => {
  it('solves the ridge problem: one dimension by hand', () => {
    // v0 = 2, v1 = 1, both weight 1, λ = 1: (4 + 1 + 1) u = 2 + 1 → u = 0.5.
    const rows = new Map([[10, 0], [11, 1]]);
    const u = projectIntoFactors([{ item: 10, weight: 1 }, { item: 11, weight: 1 }, { item: 99, weight: 5 }], (item) => rows.get(item), [2, 1], 1, 1, 1);
    expect(Array.from(u!)).toEqual([0.5]);
    expect(projectIntoFactors([{ item: 99, weight: 1 }], (item) => rows.get(item), [2, 1], 1, 1, 1)).toBeNull();
  });

  it('solveSymmetric: 2×2 by Cramer’s rule, and with a pivot swap', () => {
    expect(Array.from(solveSymmetric(Float64Array.from([2, 1, 1, 3]), Float64Array.from([3, 5]), 2)).map((x) => +x.toFixed(12))).toEqual([0.8, 1.4]);
    expect(Array.from(solveSymmetric(Float64Array.from([0, 1, 1, 0]), Float64Array.from([2, 3]), 2))).toEqual([3, 2]);
  });
});

describe('historyFromEvents', () => {
  it('keeps distinct items by latest touch with their strongest weight, up to the limit, skipping weightless events', () => {
    // Most recent first: view 7, view 8, purchase 7 (older), remove (weight 0) of 9, view 10.
    const history = historyFromEvents([7, 8, 7, 9, 10], [1, 1, 5, 0, 1], 2);
    expect(history).toEqual([{ item: 7, weight: 5 }, { item: 8, weight: 1 }]);
  });
});
