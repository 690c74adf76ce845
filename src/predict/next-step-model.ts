import type * as tfjs from '@tensorflow/tfjs';
import type { Tf } from '../ml/tf-backend';
import { encodeSteps, STEP_WIDTH } from './features';
import { NEXT_ACTIONS } from './funnel-actions';
import { nextActionsOf, type PredictionEvent } from './session-events';
import { exportWeights, fitShuffled, importWeights, seededInitializers, type EpochReport, type NamedWeights } from './tf-training';

/**
 * NEXT_STEP: a GRU reads a visit event by event (type, time since the previous event, category,
 * device, channel, price, position) and after every event gives the distribution of the next action
 * among view, cart, checkout, purchase and exit. Trained on every event of every visit at once:
 * the GRU runs over a whole window with an output per step, and padded steps have an all-zero
 * target, so they add nothing to the cross-entropy; a causal GRU never lets padding after an
 * event change that event's prediction.
 */

export interface NextStepConfig {
  units: number;
  /** Events per training window; a longer visit is cut into overlapping windows. */
  window: number;
  seed: number;
}

export interface NextStepTraining extends NextStepConfig {
  epochs: number;
  batchSize: number;
  learningRate: number;
}

export interface NextStepWindows {
  count: number;
  window: number;
  /** count × window × STEP_WIDTH */
  inputs: Float32Array;
  /** count × window × NEXT_ACTIONS.length, one-hot; all zero where nothing is predicted. */
  targets: Float32Array;
  /** Steps with a target. */
  labelled: number;
}

/**
 * Windows over visits: a visit of up to `window` events is one window; a longer one is cut every
 * `window − warmUp` events, and the first `warmUp` steps of each later window only give the GRU
 * context (their targets are counted in the window before).
 */
export function nextStepWindows(sessions: readonly (readonly PredictionEvent[])[], window: number): NextStepWindows {
  const warmUp = Math.min(8, Math.floor(window / 3));
  const stride = window - warmUp;
  const spans: { session: number; start: number; firstTarget: number }[] = [];
  sessions.forEach((events, session) => {
    if (events.length === 0) return;
    for (let start = 0; ; start += stride) {
      spans.push({ session, start, firstTarget: start === 0 ? 0 : warmUp });
      if (start + window >= events.length) break;
    }
  });
  const width = NEXT_ACTIONS.length;
  const inputs = new Float32Array(spans.length * window * STEP_WIDTH);
  const targets = new Float32Array(spans.length * window * width);
  let labelled = 0;
  const nextCache = new Map<number, Int32Array>();
  spans.forEach((span, n) => {
    const events = sessions[span.session];
    let next = nextCache.get(span.session);
    if (!next) nextCache.set(span.session, (next = nextActionsOf(events)));
    const slice = events.slice(span.start, span.start + window);
    encodeSteps(slice, inputs, n * window);
    for (let t = span.firstTarget; t < slice.length; t++) {
      targets[(n * window + t) * width + next[span.start + t]] = 1;
      labelled++;
    }
  });
  return { count: spans.length, window, inputs, targets, labelled };
}

/** The window `window: 0` picks: the 90th percentile of visit lengths, within these bounds. */
export const AUTO_WINDOW = { min: 4, max: 24, quantile: 0.9 };

/**
 * The training window (events): `requested` when above 0, else sized to the visits: their 90th
 * percentile length, clamped to 4…24. Every window is padded to full length, so a window far longer
 * than most visits costs time in padding and buys nothing; the few longer visits are still read in
 * full, cut into overlapping windows (`nextStepWindows`), and served from their last `window` events.
 */
export function fittedWindow(visitLengths: readonly number[], requested: number): number {
  if (requested > 0) return requested;
  if (visitLengths.length === 0) return AUTO_WINDOW.min;
  const sorted = [...visitLengths].sort((a, b) => a - b);
  const quantile = sorted[Math.min(sorted.length - 1, Math.ceil(AUTO_WINDOW.quantile * sorted.length) - 1)];
  return Math.min(AUTO_WINDOW.max, Math.max(AUTO_WINDOW.min, quantile));
}

export function buildNextStepModel(tf: Tf, config: NextStepConfig): tfjs.LayersModel {
  const init = seededInitializers(tf, config.seed);
  const model = tf.sequential();
  model.add(tf.layers.gru({ units: config.units, returnSequences: true, inputShape: [null, STEP_WIDTH], ...init }));
  model.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: NEXT_ACTIONS.length, activation: 'softmax', kernelInitializer: init.kernelInitializer }) }));
  return model;
}

export async function trainNextStepModel(
  tf: Tf,
  windows: NextStepWindows,
  options: NextStepTraining,
  onEpoch?: (report: EpochReport) => Promise<void> | void,
): Promise<{ model: tfjs.LayersModel; finalLoss: number }> {
  if (windows.count === 0) throw new RangeError('no visits to train the next-step model on');
  const model = buildNextStepModel(tf, options);
  model.compile({ optimizer: tf.train.adam(options.learningRate), loss: 'categoricalCrossentropy' });
  const x = tf.tensor3d(windows.inputs, [windows.count, windows.window, STEP_WIDTH]);
  const y = tf.tensor3d(windows.targets, [windows.count, windows.window, NEXT_ACTIONS.length]);
  try {
    const finalLoss = await fitShuffled(tf, model, [x], y, { epochs: options.epochs, batchSize: options.batchSize, seed: options.seed }, onEpoch);
    return { model, finalLoss };
  } finally {
    tf.dispose([x, y]);
  }
}

/**
 * The next-action distribution after the last event of each visit (its last `window` events are
 * read), row-major visits × NEXT_ACTIONS.length.
 */
export function predictNextSteps(tf: Tf, model: tfjs.LayersModel, visits: readonly (readonly PredictionEvent[])[], window: number): Float32Array {
  const width = NEXT_ACTIONS.length;
  const out = new Float32Array(visits.length * width);
  if (visits.length === 0) return out;
  const lengths = visits.map((events) => Math.min(window, events.length));
  const steps = Math.max(1, ...lengths);
  const inputs = new Float32Array(visits.length * steps * STEP_WIDTH);
  visits.forEach((events, n) => encodeSteps(events.slice(events.length - lengths[n]), inputs, n * steps));
  const probabilities = tf.tidy(() => (model.predict(tf.tensor3d(inputs, [visits.length, steps, STEP_WIDTH])) as tfjs.Tensor).dataSync());
  visits.forEach((_, n) => {
    const at = (n * steps + Math.max(0, lengths[n] - 1)) * width;
    out.set(probabilities.subarray(at, at + width), n * width);
  });
  return out;
}

/**
 * Predictions after every labelled step of `windows` (for evaluation), with each step's true next
 * action: what the model said at each event, in the same order as the Markov baseline sees them.
 */
export function predictWindowSteps(tf: Tf, model: tfjs.LayersModel, windows: NextStepWindows): { probabilities: Float32Array; labels: Int32Array } {
  const width = NEXT_ACTIONS.length;
  const probabilities = new Float32Array(windows.labelled * width);
  const labels = new Int32Array(windows.labelled);
  const batch = 512;
  let written = 0;
  for (let start = 0; start < windows.count; start += batch) {
    const count = Math.min(batch, windows.count - start);
    const slice = windows.inputs.subarray(start * windows.window * STEP_WIDTH, (start + count) * windows.window * STEP_WIDTH);
    const output = tf.tidy(() => (model.predict(tf.tensor3d(slice, [count, windows.window, STEP_WIDTH])) as tfjs.Tensor).dataSync());
    for (let row = 0; row < count * windows.window; row++) {
      const targetAt = ((start * windows.window) + row) * width;
      let label = -1;
      for (let a = 0; a < width; a++) if (windows.targets[targetAt + a] === 1) label = a;
      if (label < 0) continue;
      probabilities.set(output.subarray(row * width, row * width + width), written * width);
      labels[written++] = label;
    }
  }
  return { probabilities, labels };
}

export function nextStepWeights(model: tfjs.LayersModel): NamedWeights[] {
  return exportWeights(model, 'nextStep');
}

export function restoreNextStepModel(tf: Tf, config: NextStepConfig, weights: readonly NamedWeights[]): tfjs.LayersModel {
  const model = buildNextStepModel(tf, config);
  importWeights(tf, model, weights);
  return model;
}
