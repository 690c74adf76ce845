import { pairScore, topItemsForUsers, trainBpr } from './matrix-factorization';
import { loadTf } from './tf-backend';

describe('BPR matrix factorisation', () => {
  it('learns two taste groups and leaves excluded items out of the top list', async () => {
    const { tf } = await loadTf('wasm');
    // Users 0–9 like items 0–4, users 10–19 like items 5–9; each user touched three items of their group.
    const users: number[] = [];
    const items: number[] = [];
    for (let user = 0; user < 20; user++) {
      const base = user < 10 ? 0 : 5;
      for (let n = 0; n < 3; n++) {
        users.push(user);
        items.push(base + ((user + n) % 5));
      }
    }
    const pairs = { userCount: 20, itemCount: 10, users: Int32Array.from(users), items: Int32Array.from(items), weights: new Float32Array(users.length).fill(1) };
    const factors = await trainBpr(tf, pairs, {
      dimensions: 4,
      epochs: 60,
      learningRate: 0.05,
      regularization: 0.001,
      negatives: 2,
      negativeSampling: 'uniform',
      batchSize: 16,
      seed: 3,
    });
    // User 0 never touched item 3 (its group) or item 8 (the other group): the model should prefer 3.
    expect(pairScore(factors, 0, 3)).toBeGreaterThan(pairScore(factors, 0, 8));
    const { items: lists } = await topItemsForUsers(tf, factors, [0, 15], 5, (user) => (user === 0 ? new Set([0]) : undefined));
    expect(Array.from(lists[0])).not.toContain(0);
    expect(Array.from(lists[0]).filter((item) => item < 5).length).toBeGreaterThanOrEqual(3);
    expect(Array.from(lists[1]).filter((item) => item >= 5).length).toBeGreaterThanOrEqual(3);
    expect(factors.epochs[factors.epochs.length - 1].loss).toBeLessThan(factors.epochs[0].loss);
  });
});
