import { FEATURES, FEATURE_COUNT } from './features';

/**
 * Robust z-scores: how many "sigmas" a value sits from the median, where the sigma is estimated
 * from the median absolute deviation (MAD), so the very outliers being looked for cannot inflate
 * it the way they inflate a standard deviation. For normal data 1.4826·MAD equals the standard
 * deviation, which makes the 3-sigma rule mean the same thing it means for z-scores.
 */
export const MAD_TO_SIGMA = 1.4826;
/** When more than half the values are equal the MAD is 0; the mean absolute deviation times √(π/2) stands in. */
export const MEAN_AD_TO_SIGMA = 1.253314;
export const SIGMA_RULE = 3;

/** Median of the finite values (NaN when there are none). Sorts a copy. */
export function median(values: ArrayLike<number>): number {
  const finite = Float64Array.from(values).filter(Number.isFinite).sort();
  if (finite.length === 0) return NaN;
  const middle = finite.length >> 1;
  return finite.length % 2 === 1 ? finite[middle] : (finite[middle - 1] + finite[middle]) / 2;
}

/** Median absolute deviation from the median, over finite values. */
export function medianAbsoluteDeviation(values: ArrayLike<number>, center = median(values)): number {
  return median(Float64Array.from(values, (value) => Math.abs(value - center)));
}

export interface RobustScale {
  median: number;
  /** The robust sigma; 0 when every value is the same (such a feature never flags anyone). */
  sigma: number;
}

/** Median and robust sigma of the finite values: 1.4826·MAD, or 1.2533·mean absolute deviation when the MAD is 0. */
export function robustScale(values: ArrayLike<number>): RobustScale {
  const center = median(values);
  if (Number.isNaN(center)) return { median: NaN, sigma: 0 };
  const mad = medianAbsoluteDeviation(values, center);
  if (mad > 0) return { median: center, sigma: MAD_TO_SIGMA * mad };
  let total = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      total += Math.abs(values[i] - center);
      count++;
    }
  }
  return { median: center, sigma: MEAN_AD_TO_SIGMA * (total / count) };
}

/** The standard normal's 90th percentile: for normal data (q90 − median) / 1.2816 is the standard deviation. */
export const Q90_TO_SIGMA = 1.281552;

/**
 * Like `robustScale`, but the sigma is at least what the suspicious tail says: (q90 − median) /
 * 1.2816 for 'high' (median − q10 for 'low'). A user-day population is zero-inflated — most days
 * have no night event, no purchase, one device — so the MAD alone is tiny and one ordinary night
 * or second device would count as many sigmas. For normal data both estimates agree.
 */
export function tailScale(values: ArrayLike<number>, suspicious: 'high' | 'low'): RobustScale {
  const scale = robustScale(values);
  if (Number.isNaN(scale.median)) return scale;
  const finite = Float64Array.from(values).filter(Number.isFinite).sort();
  const quantile = finite[Math.round((suspicious === 'high' ? 0.9 : 0.1) * (finite.length - 1))];
  return { median: scale.median, sigma: Math.max(scale.sigma, Math.abs(quantile - scale.median) / Q90_TO_SIGMA) };
}

/** (x − median) / sigma; 0 for a missing value or a feature without spread. */
export function robustZ(value: number, scale: RobustScale): number {
  if (!Number.isFinite(value) || !(scale.sigma > 0)) return 0;
  return (value - scale.median) / scale.sigma;
}

/** The value a detector compares: log1p for count-like features, as is otherwise; NaN stays NaN. */
export function transformFeature(feature: number, value: number): number {
  return FEATURES[feature].logScale ? Math.log1p(Math.max(0, value)) : value;
}

/** Per-feature robust scales (`tailScale` on the suspicious side) over the transformed features of a population (rows of FEATURE_COUNT). */
export function fitFeatureScales(matrix: Float32Array | Float64Array, rows: number): RobustScale[] {
  const scales: RobustScale[] = [];
  const column = new Float64Array(rows);
  for (let f = 0; f < FEATURE_COUNT; f++) {
    for (let r = 0; r < rows; r++) column[r] = transformFeature(f, matrix[r * FEATURE_COUNT + f]);
    scales.push(tailScale(column, FEATURES[f].suspicious));
  }
  return scales;
}

/** Robust z of every feature, signed so that positive means "in the suspicious direction". */
export function suspiciousZ(features: ArrayLike<number>, offset: number, scales: readonly RobustScale[], out: Float64Array): Float64Array {
  for (let f = 0; f < FEATURE_COUNT; f++) {
    const z = robustZ(transformFeature(f, features[offset + f]), scales[f]);
    out[f] = FEATURES[f].suspicious === 'high' ? z : -z;
  }
  return out;
}

/**
 * Each feature's excess over the 3-sigma line counts up to this many sigmas, so one odd habit
 * (a night owl, a big basket) cannot make a user anomalous on its own; several together can.
 */
export const MAX_EXCESS_PER_FEATURE = 3;
/** Total excess sigmas that take the statistical score to 1 − 1/e ≈ 0.63. */
export const EXCESS_SCALE = 6;

/**
 * The statistical detector's score in [0, 1): 1 − exp(−E / 6), where E adds, over the features
 * beyond 3 sigmas in the suspicious direction, min(3, z − 3). 0 when no feature breaks the rule;
 * one feature alone reaches at most 0.39, two 0.63, four 0.86.
 */
export function statisticalScore(z: ArrayLike<number>): number {
  let excess = 0;
  for (let f = 0; f < z.length; f++) if (z[f] > SIGMA_RULE) excess += Math.min(MAX_EXCESS_PER_FEATURE, z[f] - SIGMA_RULE);
  return 1 - Math.exp(-excess / EXCESS_SCALE);
}
