import { decayedPopularity, topIndices } from './popularity';

describe('decayedPopularity', () => {
  it('halves an event’s weight per half-life before asOf', () => {
    // item 0: weight 1 one half-life ago, weight 3 now → 0.5 + 3; item 1: weight 5 now; item 2: nothing.
    const scores = decayedPopularity(3, { items: [0, 1, 0], weights: [1, 5, 3], times: [0, 100, 100] }, 100, 100);
    expect(Array.from(scores)).toEqual([3.5, 5, 0]);
    expect(topIndices(scores, 10)).toEqual([1, 0]);
    expect(topIndices(scores, 1)).toEqual([1]);
    expect(topIndices(scores, 10, (i) => i !== 1)).toEqual([0]);
  });

  it('breaks ties by the lower index', () => {
    expect(topIndices([2, 5, 5, 2], 4)).toEqual([1, 2, 0, 3]);
  });
});
