import { blendWeight, blendWeightsProblem, DEFAULT_BLEND_WEIGHTS, fusedCandidates, fuseLists, fuseWithMap, ListBuilder, Ranked, selectTop, SourceList } from './candidates';
import { Recommender } from './recommendation-id';
import type { CatalogEntry } from './serving-models';

const A = { id: 1, kind: 'ITEM_KNN', version: 1 };
const B = { id: 2, kind: 'MATRIX_FACTORIZATION', version: 3 };

describe('fuseLists', () => {
  it('adds weight / (60 + rank) over the lists and credits the larger contribution', () => {
    const fused = fuseLists([
      { source: Recommender.ITEM_KNN, version: A, ranked: rankedFromPairs([[1, 0.9], [2, 0.5]]), weight: 1 },
      { source: Recommender.MATRIX_FACTORIZATION, version: B, ranked: rankedFromPairs([[2, 3], [3, 1]]), weight: 1 },
    ]);
    // item 2: 1/62 (A, rank 1) + 1/61 (B, rank 0); item 1: 1/61; item 3: 1/62.
    expect(fused.map((c) => c.item)).toEqual([2, 1, 3]);
    expect(fused[0].score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[0].source).toBe(Recommender.MATRIX_FACTORIZATION);
    expect(fused[1].source).toBe(Recommender.ITEM_KNN);
  });

  it('passes a single list through with its own scores', () => {
    expect(fuseLists([{ source: Recommender.ITEM_KNN, version: A, ranked: rankedFromPairs([[7, 0.25]]), weight: 1 }])).toEqual([
      { item: 7, score: 0.25, source: Recommender.ITEM_KNN, version: A },
    ]);
  });
});

describe('fusedCandidates', () => {
  it('gives the same items, scores, order and credited recommender as the Map-based fusion, call after call', () => {
    let seed = 5;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const sources = [Recommender.MATRIX_FACTORIZATION, Recommender.ITEM_KNN, Recommender.SESSION_GRU];
    for (let round = 0; round < 300; round++) {
      const items = 3 + Math.floor(random() * 300);
      const lists: SourceList[] = sources.slice(0, 1 + Math.floor(random() * 3)).map((source, n) => {
        const ranked = new Map<number, number>();
        for (let k = Math.floor(random() * 80); k > 0; k--) ranked.set(Math.floor(random() * items), random());
        return { source, version: n === 0 ? A : B, ranked: rankedFromPairs([...ranked]), weight: n === 2 ? 1.5 : 1 };
      });
      const expected = lists.length === 1 ? pairsOf(lists[0].ranked).map(([item, score]) => ({ item, score, source: lists[0].source, version: lists[0].version })) : fuseWithMap(lists);
      expect([...fusedCandidates(lists)]).toEqual(expected);
      expect(fuseLists(lists)).toEqual(expected);
    }
    const huge: SourceList[] = [
      { source: Recommender.ITEM_KNN, version: A, ranked: rankedFromPairs([[2 ** 30, 1], [4, 0.5]]), weight: 1 },
      { source: Recommender.MATRIX_FACTORIZATION, version: B, ranked: rankedFromPairs([[4, 3]]), weight: 1 },
    ];
    // Ids past the dense scratch take the Map path; worked by hand: item 4 = 1/62 (A, rank 1) + 1/61
    // (B, rank 0), credited to B; item 2^30 = 1/61 (A, rank 0).
    const fusedHuge = [...fusedCandidates(huge)];
    expect(fusedHuge.map((c) => [c.item, c.source])).toEqual([
      [4, Recommender.MATRIX_FACTORIZATION],
      [2 ** 30, Recommender.ITEM_KNN],
    ]);
    expect(fusedHuge[0].score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fusedHuge[1].score).toBeCloseTo(1 / 61, 12);
  });
});

describe('selectTop', () => {
  it('returns the k best indices, ties to the lower index, from `start` on', () => {
    expect(pairsOf(selectTop([5, 1, 9, 3, 9], 3))).toEqual([[2, 9], [4, 9], [0, 5]]);
    expect(pairsOf(selectTop([9, 1, 5, 3, 5], 3, 1))).toEqual([[2, 5], [4, 5], [3, 3]]);
    expect(pairsOf(selectTop([1, NaN, 2], 5))).toEqual([[2, 2], [0, 1]]);
    expect(selectTop([1, 2], 0).length).toBe(0);
  });

  it('agrees with sorting everything, on random inputs full of ties', () => {
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let round = 0; round < 2000; round++) {
      // Short arrays, and long ones where a sampled threshold prefilters the heap.
      const length = Math.floor(random() * (round % 2 === 0 ? 120 : 1500));
      // Few distinct values, so ties are everywhere; some rounds with NaN and with fine-grained scores.
      const levels = round % 3 === 0 ? 1e6 : 12;
      const scores = Float64Array.from({ length }, () => (round % 5 === 0 && random() < 0.05 ? NaN : Math.floor(random() * levels) / 4 - 1));
      const k = Math.floor(random() * (round % 2 === 0 ? 40 : 120));
      const start = random() < 0.2 ? 1 : 0;
      const expected = Array.from(scores, (score, index) => [index, score] as [number, number])
        .filter(([index, score]) => index >= start && !Number.isNaN(score))
        .sort((a, b) => b[1] - a[1] || a[0] - b[0])
        .slice(0, k);
      expect(pairsOf(selectTop(scores, k, start))).toEqual(expected);
    }
  });
});

describe('ListBuilder', () => {
  const entry = (externalId: string, category: string, available = true): CatalogEntry => ({ externalId, category, available, repeatable: false });
  const catalog = new Map([
    [1, entry('i1', 'a')],
    [2, entry('i2', 'a')],
    [3, entry('i3', 'b', false)],
    [4, entry('i4', 'b')],
    [5, entry('i5', 'a')],
  ]);

  it('skips excluded, unavailable, duplicate and over-cap items, and keeps scores non-increasing across stages', () => {
    const builder = new ListBuilder(catalog, 3, { excluded: new Set([1]), category: null, maxPerCategory: 1 });
    const c = (item: number, score: number) => ({ item, score, source: Recommender.ITEM_KNN, version: A });
    builder.addStage([c(1, 10), c(2, 8), c(3, 6), c(2, 5)]);
    builder.addStage([c(5, 100), c(4, 50)]);
    expect(builder.served.map((s) => s.item)).toEqual([2, 4]);
    expect(builder.served[0].listScore).toBe(8);
    expect(builder.served[1].listScore).toBeCloseTo(7.92, 12); // the second stage starts just below the first: 8 · 0.99
    expect(builder.full).toBe(false); // nothing else is admissible
  });

  it('keeps to the requested category and stops at the limit', () => {
    const builder = new ListBuilder(catalog, 1, { excluded: new Set(), category: 'b', maxPerCategory: null });
    builder.addStage([1, 2, 3, 4, 5].map((item) => ({ item, score: 1, source: Recommender.CATALOG, version: null })));
    expect(builder.served.map((s) => s.item)).toEqual([4]);
    expect(builder.full).toBe(true);
  });
});

/** A `Ranked` from (item, score) pairs already in order. */
function rankedFromPairs(pairs: readonly (readonly [item: number, score: number])[]): Ranked {
  return { items: pairs.map(([item]) => item), scores: pairs.map(([, score]) => score), length: pairs.length };
}

describe('blend weights', () => {
  it('default to 1 for a source not named, and refuse negative, non-finite or unknown entries', () => {
    expect(blendWeight(DEFAULT_BLEND_WEIGHTS, Recommender.REENGAGEMENT)).toBe(2);
    expect(blendWeight({}, Recommender.ITEM_KNN)).toBe(1);
    expect(blendWeightsProblem(DEFAULT_BLEND_WEIGHTS)).toBeNull();
    expect(blendWeightsProblem({ ITEM_KNN: 0 })).toBeNull();
    expect(blendWeightsProblem({ ITEM_KNN: -1 })).toMatch(/ITEM_KNN must be a finite number of at least 0 \(got -1\)/);
    expect(blendWeightsProblem({ SESSION_GRU: NaN })).toMatch(/SESSION_GRU/);
    expect(blendWeightsProblem({ SOMETHING: 1 } as never)).toMatch(/unknown recommender "SOMETHING"/);
  });

  it('weight the fusion: re-engagement at 2 outranks one model list agreeing at the same rank', () => {
    // Item 1 is first for REENGAGEMENT (2/61), item 2 first for ITEM_KNN (1/61) and second for REENGAGEMENT (2/62).
    const lists: SourceList[] = [
      { source: Recommender.ITEM_KNN, version: A, ranked: rankedFromPairs([[2, 0.9]]), weight: 1 },
      { source: Recommender.REENGAGEMENT, version: null, ranked: rankedFromPairs([[1, 3], [2, 1]]), weight: 2 },
    ];
    const fused = fuseLists(lists);
    expect(fused.map((c) => [c.item, c.source])).toEqual([
      [2, Recommender.REENGAGEMENT],
      [1, Recommender.REENGAGEMENT],
    ]);
    expect(fused[0].score).toBeCloseTo(1 / 61 + 2 / 62, 12);
    expect(fused[1].score).toBeCloseTo(2 / 61, 12);
  });
});

function pairsOf(ranked: Ranked): [number, number][] {
  return ranked.items.slice(0, ranked.length).map((item, n): [number, number] => [item, ranked.scores[n]]);
}
