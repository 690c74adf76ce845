import { FEATURE_COUNT, FEATURE_INDEX } from './features';
import { median, medianAbsoluteDeviation, robustScale, robustZ, statisticalScore, suspiciousZ, tailScale } from './robust-z';

describe('robust z-scores', () => {
  it('median and MAD ignore missing values', () => {
    expect(median([5, 1, NaN, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([NaN])).toBeNaN();
    // |[1,2,3,4,100] − 3| = [2,1,0,1,97] → median 1
    expect(medianAbsoluteDeviation([1, 2, 3, 4, 100])).toBe(1);
  });

  it('sigma is 1.4826·MAD, so one wild value barely moves it', () => {
    const scale = robustScale([1, 2, 3, 4, 100]);
    expect(scale).toEqual({ median: 3, sigma: 1.4826 });
    expect(robustZ(100, scale)).toBeCloseTo(97 / 1.4826, 10); // 65.43
  });

  it('falls back to 1.2533 × the mean absolute deviation when most values are equal', () => {
    // median 0, MAD 0; mean |x − 0| = 5/5 = 1 → sigma 1.253314; z(5) = 3.9894
    const scale = robustScale([0, 0, 0, 0, 5]);
    expect(scale.sigma).toBeCloseTo(1.253314, 6);
    expect(robustZ(5, scale)).toBeCloseTo(3.98942, 4);
  });

  it('a feature with no spread and a missing value give z = 0', () => {
    expect(robustZ(7, robustScale([2, 2, 2]))).toBe(0);
    expect(robustZ(NaN, robustScale([1, 2, 3]))).toBe(0);
  });

  it('signs z so that positive is suspicious: low burstiness, high night share', () => {
    const scales = Array.from({ length: FEATURE_COUNT }, () => ({ median: 0, sigma: 0.1 }));
    const row = new Float64Array(FEATURE_COUNT);
    row[FEATURE_INDEX.burstiness] = -0.5;
    row[FEATURE_INDEX.nightShare] = 0.5;
    const z = suspiciousZ(row, 0, scales, new Float64Array(FEATURE_COUNT));
    expect(z[FEATURE_INDEX.burstiness]).toBeCloseTo(5, 10);
    expect(z[FEATURE_INDEX.nightShare]).toBeCloseTo(5, 10);
  });

  it('the statistical score adds each feature’s excess over 3 sigmas, capped at 3', () => {
    expect(statisticalScore([1, 2.9, -8])).toBe(0);
    // excess (4 − 3) + min(3, 10 − 3) = 4 → 1 − e^(−4/6)
    expect(statisticalScore([4, 10, 1])).toBeCloseTo(1 - Math.exp(-4 / 6), 12);
    // one feature alone never passes 1 − e^(−1/2) ≈ 0.39
    expect(statisticalScore([1000])).toBeCloseTo(1 - Math.exp(-0.5), 12);
  });
});

describe('tailScale', () => {
  it('widens the sigma of a zero-inflated feature to what its suspicious tail shows', () => {
    // 10 values, 7 zeros: median 0, MAD 0, mean absolute deviation 0.6 → robust sigma 0.752;
    // q90 (index round(0.9·9) = 8) is 2 → (2 − 0)/1.281552 = 1.5606, which wins.
    const values = [0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
    expect(robustScale(values).sigma).toBeCloseTo(0.6 * 1.253314, 6);
    expect(tailScale(values, 'high').sigma).toBeCloseTo(2 / 1.281552, 6);
    // The low side: q10 (index 1) is 0, no wider than the robust sigma.
    expect(tailScale(values, 'low').sigma).toBeCloseTo(0.6 * 1.253314, 6);
  });
});
