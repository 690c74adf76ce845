import { robustZ, SIGMA_RULE, type RobustScale } from './robust-z';

/** The detectors an ensemble combines, named as their model kinds are (without the ANOMALY_ prefix). */
export const DETECTORS = ['STATISTICAL', 'ISOLATION_FOREST', 'SUPERVISED'] as const;
export type Detector = (typeof DETECTORS)[number];

export type DetectorWeights = Record<Detector, number>;
export const DEFAULT_DETECTOR_WEIGHTS: DetectorWeights = { STATISTICAL: 1, ISOLATION_FOREST: 1, SUPERVISED: 1 };

/**
 * Puts a raw detector score on the ensemble's scale: its robust z against the scores of the whole
 * training population, through a logistic centred on the 3-sigma line, so 0.5 means "exactly three
 * robust sigmas above the typical user" whatever the detector's own range is.
 */
export function threeSigmaProbability(raw: number, population: RobustScale): number {
  return 1 / (1 + Math.exp(-(robustZ(raw, population) - SIGMA_RULE)));
}

export interface DetectorScore {
  detector: Detector;
  /** The detector's score in [0, 1]. */
  score: number;
}

export interface DetectorContribution extends DetectorScore {
  weight: number;
  /** weight·score / Σ weights: the contributions add up to the ensemble score. */
  contribution: number;
}

export interface EnsembleScore {
  score: number;
  contributions: DetectorContribution[];
}

/**
 * Weighted mean of the detectors that scored the user, in [0, 1]. Detectors without a score (no
 * trained version) or with weight 0 take no part; with none left the score is 0.
 */
export function ensembleScore(scores: readonly DetectorScore[], weights: DetectorWeights = DEFAULT_DETECTOR_WEIGHTS): EnsembleScore {
  let totalWeight = 0;
  for (const { detector, score } of scores) {
    if (!(score >= 0 && score <= 1)) throw new RangeError(`${detector} score must lie in [0, 1] (got ${score})`);
    totalWeight += weights[detector];
  }
  const contributions = scores.map(({ detector, score }) => ({
    detector,
    score,
    weight: weights[detector],
    contribution: totalWeight > 0 ? (weights[detector] * score) / totalWeight : 0,
  }));
  return { score: contributions.reduce((sum, c) => sum + c.contribution, 0), contributions };
}
