import type { ServedCandidate } from './candidates';
import { Recommender } from './recommendation-id';
import { MAX_FINGERPRINT_LENGTH, MAX_KEY_LENGTH, ServedListCache, userFingerprint } from './served-list-cache';
import type { ServingSnapshot } from './serving-models';

const snapshot = (activeKey: string, generation = 1) => ({ activeKey, generation }) as unknown as ServingSnapshot;
const list = (item: number): ServedCandidate[] => [{ item, score: 1, listScore: 1, source: Recommender.POPULARITY, version: null }];

describe('userFingerprint', () => {
  it('changes with anything the list depends on, and not with the order purchases come in', () => {
    const history = [{ item: 4, weight: 1 }, { item: 2, weight: 3 }];
    const base = userFingerprint(7, history, [4], new Set([9, 5]), 1000);
    expect(base).toEqual([7, 2, 4, 1, 2, 3, 1, 4, 2, 5, 9, 1000, 0]);
    expect(userFingerprint(7, history, [4], new Set([5, 9]), 1000)).toEqual(base);
    const variants = [
      userFingerprint(8, history, [4], new Set([5, 9]), 1000),
      userFingerprint(7, [{ item: 4, weight: 1 }, { item: 2, weight: 5 }], [4], new Set([5, 9]), 1000),
      userFingerprint(7, history, [], new Set([5, 9]), 1000),
      userFingerprint(7, history, [4], new Set([5]), 1000),
      userFingerprint(7, history, [4], new Set([5, 9]), 1001),
      userFingerprint(null, [], [], new Set(), null),
      // The same history, but the re-engagement scores moved (a late event for item 2).
      userFingerprint(7, history, [4], new Set([5, 9]), 1000, { items: [2, 4], scores: [1.5, 1], length: 2 }),
    ];
    for (const variant of variants) expect(variant).not.toEqual(base);
    const engaged = userFingerprint(7, history, [4], new Set([5, 9]), 1000, { items: [2, 4], scores: [1.5, 1], length: 2 });
    expect(engaged).toEqual([...base.slice(0, -1), 2, 2, 1.5, 4, 1]);
    expect(userFingerprint(7, history, [4], new Set([5, 9]), 1000, { items: [2, 4], scores: [1.75, 1], length: 2 })).not.toEqual(engaged);
    expect(userFingerprint(7, history, [4], new Set([5, 9]), 1000, { items: [2, 4, 8], scores: [1.5, 1, 0.5], length: 2 })).toEqual(engaged);
    // Length-prefixed parts: moving an item from the history to the session is a different state.
    expect(userFingerprint(1, [{ item: 2, weight: 1 }], [], new Set(), 0)).not.toEqual(userFingerprint(1, [], [2, 1], new Set(), 0));
  });
});

describe('ServedListCache', () => {
  it('hits only for the same snapshot object and an equal fingerprint', () => {
    const cache = new ServedListCache(10);
    const a = snapshot('a');
    cache.set('u1', a, [1, 2, 3], list(1));
    expect(cache.get('u1', a, [1, 2, 3])).toEqual(list(1));
    expect(cache.get('u1', a, [1, 2, 4])).toBeNull();
    expect(cache.get('u1', a, [1, 2])).toBeNull();
    expect(cache.get('u1', snapshot('a', 2), [1, 2, 3])).toBeNull(); // an equal-looking but newer snapshot
    expect(cache.get('u2', a, [1, 2, 3])).toBeNull();
    expect([cache.hits, cache.misses]).toEqual([1, 4]);
  });

  it('keeps one snapshot’s lists: a newer snapshot empties it, an older one is not stored', () => {
    const cache = new ServedListCache(10);
    const [first, second] = [snapshot('a', 1), snapshot('b', 2)];
    cache.set('u1', first, [1], list(1));
    cache.set('u2', second, [2], list(2));
    expect(cache.size).toBe(1);
    expect(cache.get('u1', first, [1])).toBeNull();
    cache.set('u1', first, [1], list(1)); // scored on the older snapshot by a slower request
    expect(cache.size).toBe(1);
    expect(cache.get('u2', second, [2])).toEqual(list(2));
  });

  it('does not keep lists for very long request keys or fingerprints', () => {
    const cache = new ServedListCache(10);
    const s = snapshot('s');
    cache.set('k'.repeat(MAX_KEY_LENGTH + 1), s, [1], list(1));
    cache.set('short', s, new Array(MAX_FINGERPRINT_LENGTH + 1).fill(1), list(1));
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry past its capacity, and keeps nothing at capacity 0', () => {
    const cache = new ServedListCache(2);
    const s = snapshot('s');
    cache.set('a', s, [1], list(1));
    cache.set('b', s, [2], list(2));
    expect(cache.get('a', s, [1])).not.toBeNull(); // a is now the most recent
    cache.set('c', s, [3], list(3)); // evicts b
    expect(cache.size).toBe(2);
    expect(cache.get('b', s, [2])).toBeNull();
    expect(cache.get('a', s, [1])).not.toBeNull();
    expect(cache.get('c', s, [3])).not.toBeNull();

    const off = new ServedListCache(0);
    off.set('a', s, [1], list(1));
    expect(off.get('a', s, [1])).toBeNull();
    expect(off.size).toBe(0);
  });
});
