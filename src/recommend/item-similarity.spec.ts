import { itemNeighbours } from './item-similarity';

// Worked by hand. Baskets: B0 {0:1, 1:1}, B1 {0:1, 1:3}, B2 {1:1, 2:2}; item 3 is in none.
// Norms: ‖x0‖ = √2, ‖x1‖ = √11, ‖x2‖ = 2. dot(0,1) = 1·1 + 1·3 = 4 over 2 shared baskets,
// dot(1,2) = 1·2 = 2 over 1; items 0 and 2 never meet.
const baskets = [
  { items: [0, 1], weights: [1, 1] },
  { items: [0, 1], weights: [1, 3] },
  { items: [1, 2], weights: [1, 2] },
];

describe('itemNeighbours', () => {
  it('is the plain cosine without shrinkage', () => {
    const lists = itemNeighbours(4, baskets, { neighbours: 10, shrink: 0 });
    expect(Array.from(lists[1].ids)).toEqual([0, 2]);
    expect(lists[1].scores[0]).toBeCloseTo(4 / Math.sqrt(22), 6); // 0.852803
    expect(lists[1].scores[1]).toBeCloseTo(1 / Math.sqrt(11), 6); // 0.301511
    expect(Array.from(lists[0].ids)).toEqual([1]);
    expect(lists[0].scores[0]).toBeCloseTo(4 / Math.sqrt(22), 6); // symmetric
    expect(Array.from(lists[2].ids)).toEqual([1]);
    expect(Array.from(lists[3].ids)).toEqual([]);
  });

  it('damps pairs that share few baskets, and keeps only the top neighbours', () => {
    const lists = itemNeighbours(4, baskets, { neighbours: 1, shrink: 1 });
    expect(Array.from(lists[1].ids)).toEqual([0]);
    expect(lists[1].scores[0]).toBeCloseTo((4 / Math.sqrt(22)) * (2 / 3), 6); // 0.568535
    expect(lists[2].scores[0]).toBeCloseTo((1 / Math.sqrt(11)) * (1 / 2), 6); // 0.150756
  });

  // RP3beta by hand on the same baskets. Basket sums: B0 2, B1 4, B2 3; basket counts: item 0 in 2,
  // item 1 in 3, item 2 in 1. From item 1 (its own sum is a common factor, dropped by the scaling):
  // to 0 via B0 1·1/2 + via B1 3·1/4 = 1.25; to 2 via B2 1·2/3 = 0.6667.
  it('ranks by the two-step walk divided by the neighbour’s basket count ^ β, best neighbour scaled to 1 (RP3beta)', () => {
    const rp3 = (beta: number) => itemNeighbours(4, baskets, { neighbours: 10, shrink: 0, similarity: 'rp3beta', popularityPenalty: beta });
    // β = 0 (P3): 1.25 against 0.6667.
    const plain = rp3(0);
    expect(Array.from(plain[1].ids)).toEqual([0, 2]);
    expect(plain[1].scores[1]).toBeCloseTo(0.6667 / 1.25, 3); // 0.5333
    // β = 0.5: 1.25 / √2 = 0.8839 against 0.6667 / 1.
    const half = rp3(0.5);
    expect(Array.from(half[1].ids)).toEqual([0, 2]);
    expect(half[1].scores[0]).toBeCloseTo(1, 6);
    expect(half[1].scores[1]).toBeCloseTo(0.66667 / (1.25 / Math.SQRT2), 4); // 0.7542
    // β = 1: 1.25 / 2 = 0.625 falls below 0.6667: the rarer item 2 leads, where the cosine put item 0 first.
    const full = rp3(1);
    expect(Array.from(full[1].ids)).toEqual([2, 0]);
    expect(full[1].scores[1]).toBeCloseTo(0.625 / 0.66667, 4); // 0.9375
    // One neighbour each way: scaled to 1; item 3 shares no basket.
    expect(Array.from(full[0].ids)).toEqual([1]);
    expect(full[0].scores[0]).toBeCloseTo(1, 6);
    expect(Array.from(full[2].ids)).toEqual([1]);
    expect(Array.from(full[3].ids)).toEqual([]);
  });
});
