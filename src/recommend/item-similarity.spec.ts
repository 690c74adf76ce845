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
});
