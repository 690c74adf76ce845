import { applyPlatt } from './calibration';
import { encodeSteps, STEP_LAYOUT, STEP_WIDTH, type HandFeature } from './features';
import { encodeWindow } from './propensity-model';
import type { NextStepNetworkForward, ServedPropensity } from './serving-networks';
import type { PredictionEvent } from './session-events';

/**
 * Explanations by occlusion: each feature group in turn is set to its training average (0 after
 * standardisation; for event parts, switched off in every event) and the prediction is recomputed
 * for the same input. The effect is how far the group moved the prediction from that average
 * (positive: it raised it). Cheap (the networks run in plain TypeScript, see serving-networks.ts)
 * and exact for this input.
 */
export interface Attribution {
  feature: string;
  effect: number;
}

const TOP = 5;

function strongest(attributions: Attribution[]): Attribution[] {
  return attributions
    .filter((a) => Math.abs(a.effect) > 1e-6)
    .sort((a, b) => Math.abs(b.effect) - Math.abs(a.effect))
    .slice(0, TOP)
    .map((a) => ({ feature: a.feature, effect: Math.round(a.effect * 1e5) / 1e5 }));
}

/**
 * The calibrated propensity of one case and every feature group's occlusion effect (see the file
 * comment): the hand-feature groups in the order of `features`, then "recent events (the
 * sequence)". Unrounded, for aggregation over many cases (funnel model drivers).
 */
export function propensityContributions(model: ServedPropensity, events: readonly PredictionEvent[], rawFeatures: ArrayLike<number>, features: readonly HandFeature[]): { propensity: number; contributions: Attribution[] } {
  const { forward, mean, scale, platt } = model;
  const featureCount = forward.featureCount;
  const groups = [...new Set(features.map((f) => f.group))];
  // Every row but the last shares the events, so the GRU runs twice (with them and without) and
  // only the dense head runs once per occluded row.
  const withEvents = forward.summary(encodeWindow(events, forward.window));
  const withoutEvents = forward.summary(encodeWindow([], forward.window));
  const standardised = new Float64Array(featureCount);
  for (let j = 0; j < featureCount; j++) standardised[j] = (rawFeatures[j] - mean[j]) / scale[j];
  const calibrated = (summary: Float64Array, hand: ArrayLike<number>) => applyPlatt(platt, forward.probability(summary, hand));
  const propensity = calibrated(withEvents, standardised);
  const occluded = new Float64Array(featureCount);
  const contributions = groups.map((group) => {
    for (let j = 0; j < featureCount; j++) occluded[j] = features[j].group === group ? 0 : standardised[j];
    return { feature: group, effect: propensity - calibrated(withEvents, occluded) };
  });
  contributions.push({ feature: SEQUENCE_GROUP, effect: propensity - calibrated(withoutEvents, standardised) });
  return { propensity, contributions };
}

/** The name of the sequence input's group in explanations. */
export const SEQUENCE_GROUP = 'recent events (the sequence)';

/** The calibrated propensity of one case, and the feature groups that moved it most. */
export function explainPropensity(model: ServedPropensity, events: readonly PredictionEvent[], rawFeatures: ArrayLike<number>, features: readonly HandFeature[]): { propensity: number; explanation: Attribution[] } {
  const { propensity, contributions } = propensityContributions(model, events, rawFeatures, features);
  return { propensity, explanation: strongest(contributions) };
}

const EVENT_PARTS: { name: string; from: number; to: number }[] = [
  { name: 'event types', from: STEP_LAYOUT.type, to: STEP_LAYOUT.gap },
  { name: 'time between events', from: STEP_LAYOUT.gap, to: STEP_LAYOUT.category },
  { name: 'item categories', from: STEP_LAYOUT.category, to: STEP_LAYOUT.device },
  { name: 'device', from: STEP_LAYOUT.device, to: STEP_LAYOUT.channel },
  { name: 'channel', from: STEP_LAYOUT.channel, to: STEP_LAYOUT.price },
  { name: 'prices', from: STEP_LAYOUT.price, to: STEP_LAYOUT.position },
  { name: 'position in the visit', from: STEP_LAYOUT.position, to: STEP_WIDTH },
];

/** The next-action distribution after the visit's last event, and the event parts that moved the likeliest action most. */
export function explainNextStep(forward: NextStepNetworkForward, events: readonly PredictionEvent[], window: number): { probabilities: number[]; explanation: Attribution[] } {
  const actions = forward.actions;
  const recent = events.slice(Math.max(0, events.length - window));
  const steps = recent.length;
  const base = new Float32Array(steps * STEP_WIDTH);
  encodeSteps(recent, base);
  const rows = EVENT_PARTS.length + 1;
  const inputs = new Float32Array(rows * steps * STEP_WIDTH);
  for (let r = 0; r < rows; r++) {
    inputs.set(base, r * steps * STEP_WIDTH);
    if (r === 0) continue;
    const part = EVENT_PARTS[r - 1];
    for (let t = 0; t < steps; t++) inputs.fill(0, (r * steps + t) * STEP_WIDTH + part.from, (r * steps + t) * STEP_WIDTH + part.to);
  }
  const output = forward.lastStep(inputs, rows, steps);
  const probabilities = Array.from(output.subarray(0, actions));
  let likeliest = 0;
  for (let a = 1; a < actions; a++) if (probabilities[a] > probabilities[likeliest]) likeliest = a;
  const explanation = strongest(EVENT_PARTS.map((part, i) => ({ feature: part.name, effect: probabilities[likeliest] - output[(i + 1) * actions + likeliest] })));
  return { probabilities, explanation };
}
