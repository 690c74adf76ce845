import { FEATURES, FEATURE_COUNT } from './features';
import { SIGMA_RULE, type RobustScale } from './robust-z';

export interface FeatureFinding {
  feature: string;
  value: number;
  /** The population's median, on the feature's own scale. */
  median: number;
  /** Robust z in the suspicious direction. */
  z: number;
  /** The finding in plain words, naming the day when there is one: "on 2026-01-05, 412 events within 5 minutes, 40× the median (10)". */
  text: string;
}

/** The median on the feature's own scale (log-scale features keep log1p(median) in their scale). */
export function medianOnOwnScale(feature: number, scale: RobustScale): number {
  return FEATURES[feature].logScale ? Math.expm1(scale.median) : scale.median;
}

function number(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(Math.abs(value) >= 10 ? 0 : 1);
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}

function times(value: number, median: number): string {
  if (!(median > 0)) return 'where the median user has 0';
  const ratio = value / median;
  return `${ratio >= 10 ? Math.round(ratio).toLocaleString('en-US') : ratio.toFixed(1)}× the median (${number(median)})`;
}

/** One feature's value in plain words, next to the population's median. */
export function describeFeature(feature: number, value: number, median: number): string {
  const spec = FEATURES[feature];
  switch (spec.unit) {
    case 'count':
      return `${number(value)} ${spec.phrase}, ${times(value, median)}`;
    case 'minutes':
      return `${number(value)} minutes ${spec.phrase}, ${times(value, median)}`;
    case 'share':
      return `${percent(value)} ${spec.phrase} (median user ${percent(median)})`;
    case 'ratio':
      return `${value.toFixed(2)} ${spec.phrase} (median ${median.toFixed(2)})`;
    case 'index':
      return `${spec.phrase}: ${value.toFixed(2)} (median user ${median.toFixed(2)})`;
  }
}

/**
 * The features that broke the 3-sigma rule in the suspicious direction, strongest first, at most
 * `limit` of them; `day` ("2026-01-05") starts each text when the features are a day's.
 */
export function explainFeatures(
  features: ArrayLike<number>,
  offset: number,
  z: ArrayLike<number>,
  scales: readonly RobustScale[],
  limit = 3,
  day?: string,
): FeatureFinding[] {
  const findings: FeatureFinding[] = [];
  for (let f = 0; f < FEATURE_COUNT; f++) {
    if (!(z[f] > SIGMA_RULE)) continue;
    const value = features[offset + f];
    const median = medianOnOwnScale(f, scales[f]);
    findings.push({ feature: FEATURES[f].name, value, median, z: z[f], text: day ? `on ${day}, ${describeFeature(f, value, median)}` : describeFeature(f, value, median) });
  }
  return findings.sort((a, b) => b.z - a.z).slice(0, limit);
}
