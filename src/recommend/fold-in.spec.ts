import type { Ranked } from './candidates';
import { historyFromEvents, projectIntoFactors, rankFromNeighbours, scoreFromNeighbours, solveSymmetric } from './fold-in';

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

describe('rankFromNeighbours', () => {
  /** The Map of scoreFromNeighbours fully sorted, ties in its insertion order: what serving did before the dense scratch. */
  const reference = (history: { item: number; weight: number }[], length: number, lists: Map<number, { ids: number[]; scores: number[] }>, decay: number, self: number, depth: number) => {
    const map = scoreFromNeighbours(history.slice(0, length), (item) => lists.get(item), decay, self);
    return [...map]
      .map(([item, score], order) => ({ item, score, order }))
      .sort((a, b) => b.score - a.score || a.order - b.order)
      .slice(0, depth)
      .map(({ item, score }) => [item, score]);
  };
  const pairsOf = (ranked: Ranked) => ranked.items.slice(0, ranked.length).map((item, n): [number, number] => [item, ranked.scores[n]]);

  it('ranks exactly as the Map-based fold-in, ties included, call after call (the scratch is reset)', () => {
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let round = 0; round < 300; round++) {
      const items = 5 + Math.floor(random() * 200);
      const lists = new Map<number, { ids: number[]; scores: number[] }>();
      for (let item = 0; item < items; item++) {
        const ids: number[] = [];
        const scores: number[] = [];
        for (let n = Math.floor(random() * 8); n > 0; n--) {
          ids.push(Math.floor(random() * items));
          scores.push(random() < 0.3 ? 0.5 : Math.fround(random()));
        }
        lists.set(item, { ids, scores });
      }
      const history = Array.from({ length: Math.floor(random() * 25) }, () => ({ item: Math.floor(random() * items), weight: [1, 2, 3, 5][Math.floor(random() * 4)] }));
      const self = random() < 0.5 ? 0 : 1;
      const depth = 1 + Math.floor(random() * 40);
      expect(pairsOf(rankFromNeighbours(history, 20, (item) => lists.get(item), 0.9, self, depth))).toEqual(reference(history, 20, lists, 0.9, self, depth));
    }
  });

  it('falls back to the Map for ids too large to index densely', () => {
    const lists = new Map([[1, { ids: [2 ** 30, 3], scores: [0.5, 0.5] }]]);
    const history = [{ item: 1, weight: 1 }];
    // By hand: the item itself counts selfWeight 1; both neighbours 0.5, tied, in the order the list gives them.
    expect(pairsOf(rankFromNeighbours(history, 20, (item) => lists.get(item), 0.9, 1, 10))).toEqual([
      [1, 1],
      [2 ** 30, 0.5],
      [3, 0.5],
    ]);
  });
});
