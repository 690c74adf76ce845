import type * as tfjs from '@tensorflow/tfjs';
import type { Tf } from '../ml/tf-backend';
import { applyPlatt } from './calibration';
import { encodeSteps, STEP_LAYOUT, STEP_WIDTH, type HandFeature } from './features';
import { encodeWindow, type PropensityModel } from './propensity-model';
import type { PredictionEvent } from './session-events';

/**
 * Explanations by occlusion: each feature group in turn is set to its training average (0 after
 * standardisation; for event parts, switched off in every event) and the prediction is recomputed
 * in the same batch. The effect is how far the group moved the prediction from that average
 * (positive: it raised it). Cheap (one forward pass of groups + 1 rows) and exact for this input.
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

/** The calibrated propensity of one case, and the feature groups that moved it most. */
export function explainPropensity(tf: Tf, model: PropensityModel, events: readonly PredictionEvent[], rawFeatures: ArrayLike<number>, features: readonly HandFeature[]): { propensity: number; explanation: Attribution[] } {
  const { window, featureCount } = model.config;
  const groups = [...new Set(features.map((f) => f.group))];
  const rows = groups.length + 2;
  const sequence = encodeWindow(events, window);
  const sequences = new Float32Array(rows * window * STEP_WIDTH);
  const hand = new Float32Array(rows * featureCount);
  for (let r = 0; r < rows; r++) {
    // The last row leaves the sequence out (all padding): the effect of the recent events.
    if (r < rows - 1) sequences.set(sequence, r * window * STEP_WIDTH);
    for (let j = 0; j < featureCount; j++) {
      const occluded = r >= 1 && r <= groups.length && features[j].group === groups[r - 1];
      hand[r * featureCount + j] = occluded ? 0 : (rawFeatures[j] - model.mean[j]) / model.scale[j];
    }
  }
  const raw = tf.tidy(() =>
    (model.network.predict([tf.tensor3d(sequences, [rows, window, STEP_WIDTH]), tf.tensor2d(hand, [rows, featureCount])]) as tfjs.Tensor).dataSync(),
  );
  const p = Array.from(raw, (value) => applyPlatt(model.platt, value));
  const attributions = groups.map((group, g) => ({ feature: group, effect: p[0] - p[g + 1] }));
  attributions.push({ feature: 'recent events (the sequence)', effect: p[0] - p[rows - 1] });
  return { propensity: p[0], explanation: strongest(attributions) };
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
export function explainNextStep(tf: Tf, model: tfjs.LayersModel, events: readonly PredictionEvent[], window: number, actions: number): { probabilities: number[]; explanation: Attribution[] } {
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
  const output = tf.tidy(() => (model.predict(tf.tensor3d(inputs, [rows, steps, STEP_WIDTH])) as tfjs.Tensor).dataSync());
  const at = (r: number) => (r * steps + steps - 1) * actions;
  const probabilities = Array.from(output.subarray(at(0), at(0) + actions));
  let likeliest = 0;
  for (let a = 1; a < actions; a++) if (probabilities[a] > probabilities[likeliest]) likeliest = a;
  const explanation = strongest(EVENT_PARTS.map((part, i) => ({ feature: part.name, effect: probabilities[likeliest] - output[at(i + 1) + likeliest] })));
  return { probabilities, explanation };
}
