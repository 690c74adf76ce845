import { solveSymmetric } from '../recommend/fold-in';
import { alsLoss, solveRows, sparseRows, trainImplicitAls } from './implicit-als';
import type { PairSet } from './matrix-factorization';

const pairSet = (userCount: number, itemCount: number, triples: [number, number, number][]): PairSet => ({
  userCount,
  itemCount,
  users: Int32Array.from(triples, (t) => t[0]),
  items: Int32Array.from(triples, (t) => t[1]),
  weights: Float32Array.from(triples, (t) => t[2]),
});

describe('implicit ALS', () => {
  it('solves a user exactly: the hand-worked one-dimensional ridge solution', () => {
    // Items y = 1, 2, 3; the user touched item 0 (weight 1) and item 2 (weight 2); alpha 1, λ 1.
    // Confidences c = 2, 1, 3 and preferences p = 1, 0, 1:
    // x = Σ c·p·y / (Σ c·y² + λ) = (2·1 + 3·3) / (2·1 + 1·4 + 3·9 + 1) = 11 / 34.
    const rows = sparseRows(pairSet(1, 3, [[0, 0, 1], [0, 2, 2]]), 1, true);
    for (const steps of [0, 1]) {
      const user = new Float64Array(1);
      solveRows(user, Float64Array.from([1, 2, 3]), 3, rows, 1, { regularization: 1, conjugateGradientSteps: steps });
      // One conjugate-gradient step is exact in one dimension.
      expect(user[0]).toBeCloseTo(11 / 34, 12);
    }
  });

  it('a half-step equals the ridge solution over every cell, by Cholesky and by d conjugate-gradient steps', () => {
    const d = 3;
    const itemCount = 5;
    const items = Float64Array.from([0.3, -0.2, 0.5, 1.1, 0.4, -0.7, -0.6, 0.9, 0.2, 0.05, 0.3, 0.8, -0.4, -0.1, 0.6]);
    const pairs = pairSet(2, itemCount, [[0, 1, 1], [0, 3, 5], [0, 4, 2], [1, 0, 3]]);
    const alpha = 2;
    const lambda = 0.3;
    // Reference: A = Σ over all items c·y yᵀ + λI, b = Σ c·p·y, with c = 1 and p = 0 off the touched items.
    const reference = (user: number) => {
      const a = new Float64Array(d * d);
      const b = new Float64Array(d);
      for (let item = 0; item < itemCount; item++) {
        const n = [...pairs.users.keys()].find((m) => pairs.users[m] === user && pairs.items[m] === item);
        const c = n === undefined ? 1 : 1 + alpha * pairs.weights[n];
        const p = n === undefined ? 0 : 1;
        for (let x = 0; x < d; x++) {
          b[x] += c * p * items[item * d + x];
          for (let y = 0; y < d; y++) a[x * d + y] += c * items[item * d + x] * items[item * d + y];
        }
      }
      for (let x = 0; x < d; x++) a[x * d + x] += lambda;
      return solveSymmetric(a, b, d);
    };
    const rows = sparseRows(pairs, alpha, true);
    for (const steps of [0, d]) {
      const users = new Float64Array(2 * d);
      solveRows(users, items, itemCount, rows, d, { regularization: lambda, conjugateGradientSteps: steps });
      for (const user of [0, 1]) {
        const expected = reference(user);
        for (let k = 0; k < d; k++) expect(users[user * d + k]).toBeCloseTo(expected[k], 9);
      }
    }
  });

  it('its loss is the sum over every cell, and it falls from iteration to iteration', async () => {
    // Users 0–9 like items 0–4, users 10–19 like items 5–9; each touched three items of their group.
    const triples: [number, number, number][] = [];
    for (let user = 0; user < 20; user++) for (let n = 0; n < 3; n++) triples.push([user, (user < 10 ? 0 : 5) + ((user + n) % 5), 1 + (n % 2)]);
    const pairs = pairSet(20, 10, triples);
    const options = { dimensions: 4, iterations: 6, alpha: 4, regularization: 0.1, conjugateGradientSteps: 3, initScale: 0.1, seed: 5 };
    const result = await trainImplicitAls(pairs, options);

    const users = Float64Array.from(result.userFactors);
    const items = Float64Array.from(result.itemFactors);
    const d = 4;
    let brute = 0;
    for (let u = 0; u < 20; u++) {
      for (let i = 0; i < 10; i++) {
        const n = triples.findIndex((t) => t[0] === u && t[1] === i);
        const c = n < 0 ? 1 : 1 + options.alpha * triples[n][2];
        let s = 0;
        for (let k = 0; k < d; k++) s += users[u * d + k] * items[i * d + k];
        brute += c * ((n < 0 ? 0 : 1) - s) ** 2;
      }
    }
    for (const value of [...users, ...items]) brute += options.regularization * value * value;
    expect(alsLoss(users, items, 20, 10, sparseRows(pairs, options.alpha, true), d, options.regularization)).toBeCloseTo(brute, 3);

    const losses = result.iterations.map((report) => report.loss);
    for (let n = 1; n < losses.length; n++) expect(losses[n]).toBeLessThanOrEqual(losses[n - 1] + 1e-12);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
    // User 0 never touched item 3 (its group) or item 8 (the other group): the model prefers 3.
    const score = (u: number, i: number) => [0, 1, 2, 3].reduce((sum, k) => sum + result.userFactors[u * d + k] * result.itemFactors[i * d + k], 0);
    expect(score(0, 3)).toBeGreaterThan(score(0, 8));
    expect(Array.from(result.itemBias)).toEqual(new Array(10).fill(0));
  });
});
