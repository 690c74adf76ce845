import type * as tfjs from '@tensorflow/tfjs';
import { loadTf, type Tf } from '../ml/tf-backend';
import { Rng } from '../ml/random';
import { explainPropensity } from './explain';
import { encodeSteps, STEP_WIDTH } from './features';
import { buildNextStepModel } from './next-step-model';
import { buildPropensityNetwork, encodeWindow, type PropensityModel } from './propensity-model';
import { NextStepNetworkForward, servedPropensity } from './serving-networks';
import type { PredictionEvent } from './session-events';

/** Every weight (biases included) drawn uniformly from ±spread, so no zero bias hides a mistake. */
function randomiseWeights(tf: Tf, model: tfjs.LayersModel, seed: number, spread = 0.6): void {
  const rng = new Rng(seed);
  const tensors = model.weights.map((w) => tf.tensor(Float32Array.from({ length: (w.shape as number[]).reduce((a, b) => a * b, 1) }, () => (rng.next() * 2 - 1) * spread), w.shape as number[]));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

const TYPES = ['view', 'cart', 'fav', 'checkout', 'search', 'purchase', 'signup'];
function randomEvents(rng: Rng, count: number): PredictionEvent[] {
  let at = 1_700_000_000_000;
  return Array.from({ length: count }, (_, i) => {
    at += rng.next() < 0.2 ? 5 * 3_600_000 : Math.round(rng.next() * 120_000);
    return {
      type: TYPES[Math.floor(rng.next() * TYPES.length)],
      timestamp: at,
      sessionId: `s${Math.floor(i / 4)}`,
      category: rng.next() < 0.8 ? `c${Math.floor(rng.next() * 5)}` : null,
      price: rng.next() < 0.7 ? Math.round(rng.next() * 300) : null,
      device: rng.next() < 0.5 ? 'mobile' : 'desktop',
      channel: rng.next() < 0.5 ? 'ads' : null,
    };
  });
}

describe('serving forward pass (plain TypeScript) against the tfjs network', () => {
  it('gives the propensity network\'s outputs, padding and empty windows included', async () => {
    const { tf } = await loadTf('wasm');
    const config = { units: 6, hiddenUnits: 5, window: 8, featureCount: 4, seed: 3 };
    const network = buildPropensityNetwork(tf, config);
    randomiseWeights(tf, network, 11);
    const rng = new Rng(5);
    const rows = 7;
    const sequences = new Float32Array(rows * config.window * STEP_WIDTH);
    const hand = Float32Array.from({ length: rows * config.featureCount }, () => rng.next() * 4 - 2);
    // 0 events (all padding), fewer than the window, exactly the window, more than the window.
    [0, 1, 3, 8, 12, 5, 2].forEach((count, r) => sequences.set(encodeWindow(randomEvents(rng, count), config.window), r * config.window * STEP_WIDTH));
    const expected = tf.tidy(() => (network.predict([tf.tensor3d(sequences, [rows, config.window, STEP_WIDTH]), tf.tensor2d(hand, [rows, config.featureCount])]) as tfjs.Tensor).dataSync());
    const model: PropensityModel = { config, network, mean: [0, 0, 0, 0], scale: [1, 1, 1, 1], platt: { a: 1, b: 0 } };
    const actual = servedPropensity(model).forward.predict(sequences, hand, rows);
    for (let r = 0; r < rows; r++) expect(actual[r]).toBeCloseTo(expected[r], 5);
    network.dispose();
  });

  it('explains a propensity with the same numbers tfjs gives for the occluded inputs', async () => {
    const { tf } = await loadTf('wasm');
    const config = { units: 4, hiddenUnits: 4, window: 6, featureCount: 3, seed: 9 };
    const network = buildPropensityNetwork(tf, config);
    randomiseWeights(tf, network, 12, 1.2);
    const events = randomEvents(new Rng(8), 5);
    const raw = [3, 1, 7];
    const model: PropensityModel = { config, network, mean: [1, 2, 3], scale: [2, 1, 4], platt: { a: 1, b: 0 } };
    const features = [{ name: 'a', group: 'a' }, { name: 'b1', group: 'b' }, { name: 'b2', group: 'b' }];
    const { propensity, explanation } = explainPropensity(servedPropensity(model), events, raw, features);
    // Standardised: (3−1)/2 = 1, (1−2)/1 = −1, (7−3)/4 = 1.
    const sequence = encodeWindow(events, config.window);
    const empty = new Float32Array(sequence.length);
    const run = (seq: Float32Array, hand: number[]) => tf.tidy(() => (network.predict([tf.tensor3d(seq, [1, config.window, STEP_WIDTH]), tf.tensor2d([hand], [1, 3])]) as tfjs.Tensor).dataSync()[0]);
    const full = run(sequence, [1, -1, 1]);
    expect(propensity).toBeCloseTo(full, 5);
    const expected = new Map([
      ['a', full - run(sequence, [0, -1, 1])],
      ['b', full - run(sequence, [1, 0, 0])],
      ['recent events (the sequence)', full - run(empty, [1, -1, 1])],
    ]);
    for (const { feature, effect } of explanation) expect(effect).toBeCloseTo(expected.get(feature)!, 4);
    expect(explanation.length).toBe([...expected.values()].filter((v) => Math.abs(v) > 1e-5).length);
    network.dispose();
  });

  it('gives the next-step network\'s distribution after the last event', async () => {
    const { tf } = await loadTf('wasm');
    const model = buildNextStepModel(tf, { units: 7, window: 10, seed: 4 });
    randomiseWeights(tf, model, 13);
    const rng = new Rng(6);
    const rows = 3;
    const steps = 9;
    const inputs = new Float32Array(rows * steps * STEP_WIDTH);
    for (let r = 0; r < rows; r++) encodeSteps(randomEvents(rng, steps), inputs, r * steps);
    const all = tf.tidy(() => (model.predict(tf.tensor3d(inputs, [rows, steps, STEP_WIDTH])) as tfjs.Tensor).dataSync());
    const forward = NextStepNetworkForward.of(model);
    const actual = forward.lastStep(inputs, rows, steps);
    const actions = forward.actions;
    for (let r = 0; r < rows; r++) {
      for (let a = 0; a < actions; a++) expect(actual[r * actions + a]).toBeCloseTo(all[(r * steps + steps - 1) * actions + a], 5);
      expect(actual.subarray(r * actions, (r + 1) * actions).reduce((s, p) => s + p, 0)).toBeCloseTo(1, 9);
    }
    model.dispose();
  });
});
