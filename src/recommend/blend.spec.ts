import { chooseWeights, MemberRanker } from './blend.kind';
import { Recommender } from './recommendation-id';
import type { Ranked } from './candidates';

const ranked = (items: number[]): Ranked => ({ items, scores: items.map((_, n) => items.length - n), length: items.length });

describe('blend weights chosen on validation users', () => {
  // Users 1…4 each went on to item 100 + user. Member "good" ranks it first; "junk" ranks items
  // nobody touched (200…219) first and the right one 30th.
  const users = [1, 2, 3, 4].map((user) => ({ user, relevant: new Set([100 + user]), excluded: new Set<number>() }));
  const junkList = (user: number) => [...Array.from({ length: 29 }, (_, n) => 200 + n), 100 + user];
  const good: MemberRanker = (user) => ranked([100 + user, 300, 301]);
  const junk: MemberRanker = (user) => ranked(junkList(user));
  const popular = [500, 501, 502];

  it('leaves out a member that only hurts, and lists every member with its weight', () => {
    const rankers = new Map<never, MemberRanker>([
      [Recommender.ITEM_KNN as never, good],
      [Recommender.MATRIX_FACTORIZATION as never, junk],
    ]);
    const { weights, validationRecall } = chooseWeights(rankers, users, 2, 1000, popular);
    // ITEM_KNN alone puts the right item first: recall@2 = 1, the best possible. The grid runs
    // ITEM_KNN's weight in the outer loop, so its first entry with ITEM_KNN > 0 is (0.25, 0); an
    // entry that adds junk can at best tie it (same recall and NDCG), and ties keep the earlier entry.
    expect(validationRecall).toBe(1);
    expect(weights).toEqual({ ITEM_KNN: 0.25, MATRIX_FACTORIZATION: 0 });
  });

  it('keeps both members when each finds what the other misses', () => {
    // Users 1, 2: only "a" finds their item; users 3, 4: only "b" does (at rank 0 in either case).
    const a: MemberRanker = (user) => ranked(user <= 2 ? [100 + user] : [400]);
    const b: MemberRanker = (user) => ranked(user > 2 ? [100 + user] : [401]);
    const rankers = new Map<never, MemberRanker>([
      [Recommender.ITEM_KNN as never, a],
      [Recommender.MATRIX_FACTORIZATION as never, b],
    ]);
    const { weights, validationRecall } = chooseWeights(rankers, users, 2, 1000, popular);
    // Alone, each finds half (recall 0.5); fused at equal weights both rank-0 items make the top 2: recall 1.
    expect(validationRecall).toBe(1);
    expect(weights.ITEM_KNN).toBeGreaterThan(0);
    expect(weights.MATRIX_FACTORIZATION).toBeGreaterThan(0);
  });
});
