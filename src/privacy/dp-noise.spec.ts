import { Rng } from '../ml/random';
import { asCount, cryptoUniform, laplace, laplaceScale, laplaceStandardError, nonIncreasing } from './dp-noise';

/** Mean, variance and the share of draws beyond `cut` in absolute value. */
function moments(draws: number[], cut: number): { mean: number; variance: number; beyond: number } {
  const mean = draws.reduce((sum, x) => sum + x, 0) / draws.length;
  const variance = draws.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (draws.length - 1);
  return { mean, variance, beyond: draws.filter((x) => Math.abs(x) > cut).length / draws.length };
}

describe('Laplace noise', () => {
  it('has mean 0, variance 2b² and P(|X| > b) = 1/e (40,000 seeded draws, 5-sigma bounds)', () => {
    const rng = Rng.stream(17, 1);
    const b = 3;
    const draws = Array.from({ length: 40_000 }, () => laplace(b, () => rng.next()));
    const { mean, variance, beyond } = moments(draws, b);
    // sd of the mean √(2b²/n) = 0.021; of the variance √((24b⁴ − 4b⁴)/n) = 0.20; of the share √(p(1−p)/n) = 0.0024.
    expect(Math.abs(mean)).toBeLessThan(0.11);
    expect(Math.abs(variance - 2 * b * b)).toBeLessThan(1.0);
    expect(Math.abs(beyond - Math.exp(-1))).toBeLessThan(0.012);
    // Symmetric: half the draws above 0 (sd 0.0025).
    expect(Math.abs(draws.filter((x) => x > 0).length / draws.length - 0.5)).toBeLessThan(0.0125);
  });

  it('inverts the CDF exactly at chosen points', () => {
    // u = 0.75: u − ½ = 0.25, noise = −b·ln(1 − 0.5) = b·ln 2; u = 0.25 gives the negative.
    expect(laplace(2, () => 0.75)).toBeCloseTo(2 * Math.LN2, 12);
    expect(laplace(2, () => 0.25)).toBeCloseTo(-2 * Math.LN2, 12);
    expect(Math.abs(laplace(2, () => 0.5))).toBe(0);
    expect(() => laplace(0, () => 0.5)).toThrow(RangeError);
  });

  it('scales with sensitivity / epsilon and states its standard error', () => {
    expect(laplaceScale(4, 0.5)).toBe(8);
    expect(laplaceStandardError(8)).toBeCloseTo(11.3137, 4);
  });

  it('draws from node:crypto, never Math.random, uniformly in [0, 1)', () => {
    const spy = jest.spyOn(Math, 'random');
    const uniform = cryptoUniform();
    const draws = Array.from({ length: 20_000 }, uniform);
    expect(spy).not.toHaveBeenCalled();
    spy.mockRestore();
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...draws)).toBeLessThan(1);
    // Mean ½ with sd √(1/12/n) = 0.002: 0.02 is ten sigma, so this cannot flake.
    expect(Math.abs(draws.reduce((sum, x) => sum + x, 0) / draws.length - 0.5)).toBeLessThan(0.02);
    expect(new Set(draws).size).toBe(draws.length);
  });
});

describe('post-processing', () => {
  it('rounds noisy counts and clamps them at 0', () => {
    expect([-3.2, -0.4, 0.4, 2.5, 7.49].map(asCount)).toEqual([0, 0, 0, 3, 7]);
  });

  it('makes step counts non-increasing by pooling adjacent violators into their mean', () => {
    expect(nonIncreasing([10, 12, 5])).toEqual([11, 11, 5]);
    expect(nonIncreasing([5, 6, 7])).toEqual([6, 6, 6]);
    expect(nonIncreasing([3, 1, 2])).toEqual([3, 1.5, 1.5]);
    expect(nonIncreasing([9, 4, 4, 1])).toEqual([9, 4, 4, 1]);
    // 8 then 2, 6, 4: the last three pool to 4; 8 ≥ 4 stays.
    expect(nonIncreasing([8, 2, 6, 4])).toEqual([8, 4, 4, 4]);
    expect(nonIncreasing([])).toEqual([]);
  });
});
