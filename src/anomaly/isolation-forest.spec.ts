import { Rng } from '../ml/random';
import { averagePathLength, fitIsolationForest, isolationScore } from './isolation-forest';

describe('average path length c(n)', () => {
  it('matches the hand-worked values', () => {
    expect(averagePathLength(1)).toBe(0);
    expect(averagePathLength(2)).toBe(1);
    // c(3) = 2(ln 2 + γ) − 4/3 = 2(0.693147 + 0.577216) − 1.333333 = 1.207392
    expect(averagePathLength(3)).toBeCloseTo(1.207392, 6);
    // c(256) = 2(ln 255 + γ) − 510/256 = 2(5.541264 + 0.577216) − 1.992188 = 10.244771
    expect(averagePathLength(256)).toBeCloseTo(10.244771, 5);
  });
});

describe('isolation forest', () => {
  it('two points, ψ = 2: every tree cuts once, each point ends at depth 1, score 2^(−1/c(2)) = 0.5', () => {
    const model = fitIsolationForest([0, 0, 1, 1], 2, 2, Rng.stream(3), { trees: 10, sampleSize: 2 });
    expect(isolationScore(model, [0, 0])).toBe(0.5);
    expect(isolationScore(model, [1, 1])).toBe(0.5);
  });

  // A 20×20 grid on [0, 1]² and two far points.
  const rows: number[] = [];
  for (let i = 0; i < 20; i++) for (let j = 0; j < 20; j++) rows.push(i / 19, j / 19);
  rows.push(8, 8, -6, 0.5);
  const count = rows.length / 2;

  it('scores the far points above every grid point', () => {
    const model = fitIsolationForest(rows, count, 2, Rng.stream(7));
    const scores = Array.from({ length: count }, (_, r) => isolationScore(model, rows, r * 2));
    const inliers = scores.slice(0, 400);
    expect(Math.min(scores[400], scores[401])).toBeGreaterThan(Math.max(...inliers));
    expect(Math.min(scores[400], scores[401])).toBeGreaterThan(0.6);
    expect(inliers.reduce((a, b) => a + b, 0) / inliers.length).toBeLessThan(0.5);
  });

  it('is reproducible for a seed', () => {
    const a = fitIsolationForest(rows, count, 2, Rng.stream(11), { trees: 20, sampleSize: 64 });
    const b = fitIsolationForest(rows, count, 2, Rng.stream(11), { trees: 20, sampleSize: 64 });
    expect(a).toEqual(b);
    expect(a.trees).toHaveLength(20);
  });

  it('refuses input it cannot grow a forest on', () => {
    expect(() => fitIsolationForest([1, 2], 1, 2, Rng.stream(1))).toThrow('at least 2 rows');
    expect(() => fitIsolationForest([1, 2, 3, 4], 2, 2, Rng.stream(1), { trees: 0, sampleSize: 2 })).toThrow('trees');
  });
});
