import { chooseWeights, MemberRanker } from './blend.kind';
import { Recommender } from './recommendation-id';
import type { Ranked } from './candidates';

const ranked = (items: number[]): Ranked => ({ items, scores: items.map((_, n) => items.length - n), length: items.length });
const usersUpTo = (n: number) => Array.from({ length: n }, (_, i) => ({ user: i + 1, relevant: new Set([101 + i]), excluded: new Set<number>() }));
const KNN = Recommender.ITEM_KNN as never;
const MF = Recommender.MATRIX_FACTORIZATION as never;
const popular = [500, 501, 502];

describe('blend weights chosen on validation users', () => {
  // Each user u went on to item 100 + u. Member "good" ranks it first; "junk" ranks 29 items
  // nobody touched (200…228) first and the right one 30th.
  const good: MemberRanker = (user) => ranked([100 + user, 300, 301]);
  const junk: MemberRanker = (user) => ranked([...Array.from({ length: 29 }, (_, n) => 200 + n), 100 + user]);

  it('leaves out a member that only hurts when the grid clearly beats the defaults', () => {
    const rankers = new Map<never, MemberRanker>([
      [KNN, good],
      [MF, junk],
    ]);
    // Defaults weighing junk 4 to 1: fused scores 4 / (60 + r) for junk's items beat good's 1 / 61
    // down to r = 183, so the top 2 are junk's and recall@2 is 0 for every user.
    const { weights, validationRecall, keptDefaults } = chooseWeights(rankers, usersUpTo(4), 2, 1000, popular, { [KNN]: 1, [MF]: 4 });
    // ITEM_KNN alone finds every user's item (recall 1). The grid runs ITEM_KNN's weight in the outer
    // loop, so its first entry with ITEM_KNN > 0 is (0.25, 0); an entry adding junk can at best tie
    // it, and ties keep the earlier entry. Against the defaults every user gains 1: the interval is [1, 1].
    expect(validationRecall).toBe(1);
    expect(keptDefaults).toBe(false);
    expect(weights).toEqual({ ITEM_KNN: 0.25, MATRIX_FACTORIZATION: 0 });
  });

  it('keeps both members when each finds what the other misses', () => {
    // Users 1–4: only "a" finds their item; users 5–8: only "b" does (at rank 0 in either case).
    const a: MemberRanker = (user) => ranked(user <= 4 ? [100 + user] : [400]);
    const b: MemberRanker = (user) => ranked(user > 4 ? [100 + user] : [401]);
    const rankers = new Map<never, MemberRanker>([
      [KNN, a],
      [MF, b],
    ]);
    // Defaults leaving "b" out: recall 0.5. Fused at any two positive weights, both rank-0 items
    // make the top 2: recall 1, a gain of 1 for users 5–8 and 0 for users 1–4; a resample of eight
    // users drawing none of 5–8 has probability 2^−8 = 0.4 % < 2.5 %, so the interval is above 0.
    const { weights, validationRecall, keptDefaults } = chooseWeights(rankers, usersUpTo(8), 2, 1000, popular, { [KNN]: 1, [MF]: 0 });
    expect(validationRecall).toBe(1);
    expect(keptDefaults).toBe(false);
    expect(weights.ITEM_KNN).toBeGreaterThan(0);
    expect(weights.MATRIX_FACTORIZATION).toBeGreaterThan(0);
  });

  it('keeps the defaults when no grid entry is clearly better (here: every list misses)', () => {
    const miss: MemberRanker = () => ranked([900, 901]);
    const rankers = new Map<never, MemberRanker>([
      [KNN, miss],
      [MF, miss],
    ]);
    // Every entry scores recall 0; the first in grid order is (0, 0.25), which leaves ITEM_KNN out.
    // The defaults (1, 1) are as good, so they stay.
    const { weights, keptDefaults, gainOverDefaults } = chooseWeights(rankers, usersUpTo(4), 2, 1000, popular, { [KNN]: 1, [MF]: 1 });
    expect(keptDefaults).toBe(true);
    expect(gainOverDefaults.difference).toBe(0);
    expect(weights).toEqual({ ITEM_KNN: 1, MATRIX_FACTORIZATION: 1 });
  });
});
